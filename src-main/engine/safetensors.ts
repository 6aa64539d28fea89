/**
 * The safetensors file format: an 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes.
 * Float16 and bfloat16 tensors are widened to float32 on read.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, NamedTensor>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export class SafetensorsError extends Error {
  constructor(file: string, what: string) {
    super(`${file}: ${what}`);
    this.name = 'SafetensorsError';
  }
}

const f16 = new Float32Array(1);
const f16u = new Uint32Array(f16.buffer);

function halfToFloat(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) {
      f16u[0] = sign;
      return f16[0];
    }
    return (sign ? -1 : 1) * mant * 2 ** -24; // subnormal
  }
  if (exp === 31) {
    f16u[0] = sign | 0x7f800000 | (mant << 13);
    return f16[0];
  }
  f16u[0] = sign | ((exp + 112) << 23) | (mant << 13);
  return f16[0];
}

/** What a header entry lacks to be {dtype: string, shape: [int ≥ 0…], data_offsets: [int, int]}, or null. */
function entryProblem(entry: unknown): string | null {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'an object {dtype, shape, data_offsets}';
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string') return '"dtype" to be a string such as "F32"';
  if (!Array.isArray(shape) || shape.length > 16 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return '"shape" to be a list of at most 16 non-negative integers';
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o))) return '"data_offsets" to be a list of two integers';
  return null;
}

/** Read every tensor of a safetensors file as float32 (integer tensors are converted too). */
export function readSafetensors(file: string): { tensors: TensorMap; metadata: Record<string, string> } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SafetensorsError(file, `cannot read (${(err as Error).message})`);
  }
  return parseSafetensors(bytes, file);
}

export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): { tensors: TensorMap; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new SafetensorsError(file, 'too short to be a safetensors file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.length) throw new SafetensorsError(file, `header length ${headerLen} does not fit in ${bytes.length} bytes`);
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    throw new SafetensorsError(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError(file, 'header must be a JSON object of tensors');
  const base = 8 + headerLen;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const problem = entryProblem(entry);
    if (problem) throw new SafetensorsError(file, `tensor '${name.slice(0, 100)}' in the header: expected ${problem}`);
    const e = entry as HeaderEntry;
    const [start, end] = e.data_offsets;
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (!(start >= 0 && end >= start && base + end <= bytes.length)) throw new SafetensorsError(file, `tensor '${name}' has data offsets [${start}, ${end}] outside the file`);
    const raw = bytes.subarray(base + start, base + end);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 }[e.dtype];
    if (!width) throw new SafetensorsError(file, `tensor '${name}' has unsupported dtype ${e.dtype}`);
    if (raw.length !== count * width) throw new SafetensorsError(file, `tensor '${name}' has ${raw.length} bytes, expected ${count * width} for ${e.dtype}[${e.shape.join(', ')}]`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      switch (e.dtype) {
        case 'F32': data[i] = dv.getFloat32(4 * i, true); break;
        case 'F16': data[i] = halfToFloat(dv.getUint16(2 * i, true)); break;
        case 'BF16': f16u[0] = dv.getUint16(2 * i, true) << 16; data[i] = f16[0]; break;
        case 'F64': data[i] = dv.getFloat64(8 * i, true); break;
        case 'I64': data[i] = Number(dv.getBigInt64(8 * i, true)); break;
        case 'I32': data[i] = dv.getInt32(4 * i, true); break;
        default: data[i] = dv.getUint8(i);
      }
    }
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Serialise float32 tensors (sorted by name, as the Python library does). */
export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const len = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Write atomically: a crash mid-write never leaves a truncated file under the final name. */
export function writeSafetensors(file: string, tensors: TensorMap, metadata: Record<string, string> = {}): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, encodeSafetensors(tensors, metadata));
  renameSync(tmp, file);
}
