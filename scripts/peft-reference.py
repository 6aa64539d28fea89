#!/usr/bin/python3
"""PyTorch reference vectors for DoRA and IA3 (test/engine/peft-reference.test.ts).

Run with Debian's python3-torch (1.13, CPU, float32), as ../shared/reference was made:

    /usr/bin/python3 scripts/peft-reference.py

and it writes test/fixtures/peft-reference/{dora,ia3}.safetensors and case.json.
No transformers or peft package is needed: the adapted layers below restate
PEFT's code (peft/tuners/lora/dora.py DoraLinearLayer, peft/tuners/ia3/layer.py
Linear) line for line, including DoRA's detached weight norm, and the model is
the tiny GPT-2 of ../shared/reference/gpt2-tiny, whose own reference logits the
script reproduces first (a check of the GPT-2 written here).

Three cases per adapter type, each with the loss, its outputs and every gradient:
- `gpt2.*`: the tiny GPT-2 (Conv1D weights [in, out], PEFT's fan_in_fan_out) with
  the adapter on its modules, over one prompt + answer row, loss on the answer;
- `llama.*`: the same on the tiny Llama of ../shared/reference/llama-tiny
  (nn.Linear weights [out, in], grouped-query attention, SwiGLU), whose
  reference logits the script also reproduces first;
- `linear.*`: two nn.Linear layers ([out, in] weights, the Llama layout),
  x -> layer l1 (with bias) -> tanh -> layer l2 (no bias), loss = sum(y * R),
  with the gradient of the input x as well.
Tensor names are Stepwise's (lora.ts, dora.ts, ia3.ts): `<module>.lora_A.default.weight`,
`<module>.lora_magnitude_vector.default.weight`, `<module>.ia3_l.default`.
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, '..', '..', 'shared', 'reference', 'gpt2-tiny')
LLAMA = os.path.join(HERE, '..', '..', 'shared', 'reference', 'llama-tiny')
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'peft-reference')


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        assert h['dtype'] == 'F32', (name, h['dtype'])
        a, b = h['data_offsets']
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(h['shape']).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        raw = t.numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- PEFT's adapted layers

def transpose(w, fan_in_fan_out):
    return w.T if fan_in_fan_out else w


def dora_layer(x, weight, bias, A, B, magnitude, scaling, fan_in_fan_out):
    """peft/tuners/lora/layer.py Linear.forward with use_dora (no dropout) + DoraLinearLayer.forward."""
    result = F.linear(x, transpose(weight, fan_in_fan_out), bias)  # the base layer
    lora_result = (x @ A.T) @ B.T
    x_eye = torch.eye(A.shape[1], dtype=x.dtype)
    lora_weight = ((x_eye @ A.T) @ B.T).T
    w = transpose(weight, fan_in_fan_out) + scaling * lora_weight.detach()  # get_weight_norm
    weight_norm = torch.linalg.norm(w, dim=1).to(w.dtype)
    weight_norm = weight_norm.detach()  # DoRA paper, section 4.3
    mag_norm_scale = (magnitude / weight_norm).view(1, -1)
    result_dora = (mag_norm_scale - 1) * F.linear(x, transpose(weight, fan_in_fan_out)) + mag_norm_scale * lora_result * scaling
    return result + result_dora


def ia3_layer(x, weight, bias, l, is_feedforward, fan_in_fan_out):
    """peft/tuners/ia3/layer.py Linear.forward."""
    scaling = l.flatten()
    if is_feedforward:
        return F.linear(x * scaling, transpose(weight, fan_in_fan_out), bias)
    return F.linear(x, transpose(weight, fan_in_fan_out), bias) * scaling


# ---------------------------------------------------------------- the tiny GPT-2

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2(p, cfg, ids, linear):
    """GPT2LMHeadModel's forward; `linear(x, module)` applies a Conv1D module (adapted or not)."""
    Bn, T = ids.shape
    C, H = cfg['n_embd'], cfg['n_head']
    D = C // H
    eps = cfg['layer_norm_epsilon']
    x = p['wte.weight'][ids] + p['wpe.weight'][torch.arange(T)]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg['n_layer']):
        h = F.layer_norm(x, (C,), p[f'h.{i}.ln_1.weight'], p[f'h.{i}.ln_1.bias'], eps)
        q, k, v = linear(h, f'h.{i}.attn.c_attn').split(C, dim=2)
        heads = lambda t: t.view(Bn, T, H, D).permute(0, 2, 1, 3)
        att = heads(q) @ heads(k).transpose(-1, -2) / math.sqrt(D)
        att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min))
        ctx = (att.softmax(-1) @ heads(v)).permute(0, 2, 1, 3).reshape(Bn, T, C)
        x = x + linear(ctx, f'h.{i}.attn.c_proj')
        h2 = F.layer_norm(x, (C,), p[f'h.{i}.ln_2.weight'], p[f'h.{i}.ln_2.bias'], eps)
        x = x + linear(gelu_new(linear(h2, f'h.{i}.mlp.c_fc')), f'h.{i}.mlp.c_proj')
    x = F.layer_norm(x, (C,), p['ln_f.weight'], p['ln_f.bias'], eps)
    return x @ p['wte.weight'].T


def llama(p, cfg, ids, linear):
    """LlamaForCausalLM's forward (no biases, untied head); `linear(x, module)` applies an nn.Linear module."""
    Bn, T = ids.shape
    C, H, K = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_key_value_heads']
    D = C // H
    eps = cfg['rms_norm_eps']

    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    inv_freq = 1.0 / (cfg['rope_theta'] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    freqs = torch.arange(T).float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    rotate_half = lambda x: torch.cat((-x[..., D // 2:], x[..., :D // 2]), dim=-1)
    rope = lambda x: x * cos + rotate_half(x) * sin
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = p['model.embed_tokens.weight'][ids]
    for i in range(cfg['num_hidden_layers']):
        l = f'model.layers.{i}.'
        h = rms(x, p[f'{l}input_layernorm.weight'])
        q = rope(linear(h, f'{l}self_attn.q_proj').view(Bn, T, H, D).transpose(1, 2))
        k = rope(linear(h, f'{l}self_attn.k_proj').view(Bn, T, K, D).transpose(1, 2)).repeat_interleave(H // K, dim=1)
        v = linear(h, f'{l}self_attn.v_proj').view(Bn, T, K, D).transpose(1, 2).repeat_interleave(H // K, dim=1)
        att = q @ k.transpose(-1, -2) / math.sqrt(D)
        att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min))
        ctx = (att.softmax(-1) @ v).transpose(1, 2).reshape(Bn, T, C)
        x = x + linear(ctx, f'{l}self_attn.o_proj')
        h2 = rms(x, p[f'{l}post_attention_layernorm.weight'])
        x = x + linear(F.silu(linear(h2, f'{l}mlp.gate_proj')) * linear(h2, f'{l}mlp.up_proj'), f'{l}mlp.down_proj')
    return rms(x, p['model.norm.weight']) @ p['lm_head.weight'].T


def lm_loss(logits, labels):
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


def main():
    cfg = json.load(open(os.path.join(BASE, 'config.json')))
    p = read_safetensors(os.path.join(BASE, 'model.safetensors'))
    # The GPT-2 written here against the shared reference logits.
    batch = json.load(open(os.path.join(BASE, 'batch.json')))
    ref = read_safetensors(os.path.join(BASE, 'expected.safetensors'))['logits']
    plain = lambda x, m: x @ p[f'{m}.weight'] + p[f'{m}.bias']
    with torch.no_grad():
        got = gpt2(p, cfg, torch.tensor(batch['input_ids']), plain)
    err = (got - ref).abs().max().item() / ref.abs().max().item()
    assert err < 1e-5, f'the GPT-2 here does not reproduce gpt2-tiny ({err})'
    print(f'gpt2-tiny reference logits reproduced (max rel diff {err:.1e})')

    lcfg = json.load(open(os.path.join(LLAMA, 'config.json')))
    lp = read_safetensors(os.path.join(LLAMA, 'model.safetensors'))
    lbatch = json.load(open(os.path.join(LLAMA, 'batch.json')))
    lref = read_safetensors(os.path.join(LLAMA, 'expected.safetensors'))['logits']
    lplain = lambda x, m: x @ lp[f'{m}.weight'].T
    with torch.no_grad():
        got = llama(lp, lcfg, torch.tensor(lbatch['input_ids']), lplain)
    err = (got - lref).abs().max().item() / lref.abs().max().item()
    assert err < 1e-5, f'the Llama here does not reproduce llama-tiny ({err})'
    print(f'llama-tiny reference logits reproduced (max rel diff {err:.1e})')
    lids_row = lbatch['input_ids'][0]
    lids = torch.tensor([lids_row])
    llabels = torch.tensor([[-100] * 6 + lids_row[6:]])

    prompt = [14, 17, 5, 2, 13, 16, 15]
    answer = [8, 11, 14, 5, 2]
    ids = torch.tensor([prompt + answer])
    labels = torch.tensor([[-100] * len(prompt) + answer])
    r, alpha = 4, 8.0
    scaling = alpha / r
    gen = torch.Generator().manual_seed(22)
    randn = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float32)
    case = {'base': '../../../../shared/reference/gpt2-tiny', 'prompt_ids': prompt, 'answer_ids': answer, 'r': r, 'alpha': alpha,
            'llama': {'base': '../../../../shared/reference/llama-tiny', 'prompt_ids': lids_row[:6], 'answer_ids': lids_row[6:],
                      'dora_targets': ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
                      'ia3_targets': ['k_proj', 'v_proj', 'down_proj'], 'ia3_feedforward': ['down_proj']},
            'dora_targets': ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'],
            'ia3_targets': ['attn.c_attn', 'mlp.c_proj'], 'ia3_feedforward': ['mlp.c_proj'],
            'linear': {'x': [2, 3, 8], 'l1': [6, 8], 'l2': [5, 6], 'r': 2, 'alpha': 4.0}}

    # ---- DoRA on the GPT-2: A, B random, the magnitude off ‖W + s·BA‖ so every term matters.
    dora = {}
    for i in range(cfg['n_layer']):
        for t in case['dora_targets']:
            m = f'h.{i}.{t}'
            w = p[f'{m}.weight']  # [in, out]
            n_in, n_out = w.shape
            A = (randn(r, n_in) * 0.3).requires_grad_()
            B = (randn(n_out, r) * 0.3).requires_grad_()
            with torch.no_grad():
                norm = torch.linalg.norm(w.T + scaling * (B @ A), dim=1)
            mag = (norm * (1 + 0.2 * randn(n_out))).requires_grad_()
            dora[m] = (A, B, mag)
    linear = lambda x, m: dora_layer(x, p[f'{m}.weight'], p[f'{m}.bias'], *dora[m], scaling, True) if m in dora else plain(x, m)
    logits = gpt2(p, cfg, ids, linear)
    loss = lm_loss(logits, labels)
    loss.backward()
    out = {'gpt2.loss': loss.reshape(1), 'gpt2.logits': logits}
    for m, (A, B, mag) in dora.items():
        for name, t in ((f'{m}.lora_A.default.weight', A), (f'{m}.lora_B.default.weight', B), (f'{m}.lora_magnitude_vector.default.weight', mag)):
            out[f'gpt2.param.{name}'] = t
            out[f'gpt2.grad.{name}'] = t.grad

    # ---- DoRA on the Llama: every projection, [out, in] weights.
    ldora = {}
    for i in range(lcfg['num_hidden_layers']):
        for t in case['llama']['dora_targets']:
            m = f'model.layers.{i}.{"mlp" if t in ("gate_proj", "up_proj", "down_proj") else "self_attn"}.{t}'
            w = lp[f'{m}.weight']  # [out, in]
            A = (randn(r, w.shape[1]) * 0.3).requires_grad_()
            B = (randn(w.shape[0], r) * 0.3).requires_grad_()
            with torch.no_grad():
                norm = torch.linalg.norm(w + scaling * (B @ A), dim=1)
            ldora[m] = (A, B, (norm * (1 + 0.2 * randn(w.shape[0]))).requires_grad_())
    logits = llama(lp, lcfg, lids, lambda x, m: dora_layer(x, lp[f'{m}.weight'], None, *ldora[m], scaling, False))
    lloss = lm_loss(logits, llabels)
    lloss.backward()
    out.update({'llama.loss': lloss.reshape(1), 'llama.logits': logits})
    for m, (A, B, mag) in ldora.items():
        for name, t in ((f'{m}.lora_A.default.weight', A), (f'{m}.lora_B.default.weight', B), (f'{m}.lora_magnitude_vector.default.weight', mag)):
            out[f'llama.param.{name}'] = t
            out[f'llama.grad.{name}'] = t.grad

    # ---- DoRA on two nn.Linear layers.
    lc = case['linear']
    x = randn(*lc['x']).requires_grad_()
    W1, b1, W2 = randn(*lc['l1']) * 0.5, randn(lc['l1'][0]) * 0.1, randn(*lc['l2']) * 0.5
    R = randn(lc['x'][0], lc['x'][1], lc['l2'][0])
    s2 = lc['alpha'] / lc['r']
    lin = {}
    for m, W in (('l1', W1), ('l2', W2)):
        A = (randn(lc['r'], W.shape[1]) * 0.4).requires_grad_()
        B = (randn(W.shape[0], lc['r']) * 0.4).requires_grad_()
        with torch.no_grad():
            norm = torch.linalg.norm(W + s2 * (B @ A), dim=1)
        lin[m] = (A, B, (norm * (1 + 0.2 * randn(W.shape[0]))).requires_grad_())
    y = dora_layer(torch.tanh(dora_layer(x, W1, b1, *lin['l1'], s2, False)), W2, None, *lin['l2'], s2, False)
    (y * R).sum().backward()
    out.update({'linear.x': x, 'linear.l1.weight': W1, 'linear.l1.bias': b1, 'linear.l2.weight': W2, 'linear.R': R, 'linear.y': y, 'linear.grad.x': x.grad})
    for m, (A, B, mag) in lin.items():
        for name, t in ((f'{m}.lora_A.default.weight', A), (f'{m}.lora_B.default.weight', B), (f'{m}.lora_magnitude_vector.default.weight', mag)):
            out[f'linear.param.{name}'] = t
            out[f'linear.grad.{name}'] = t.grad
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, 'dora.safetensors'), out)
    print(f'DoRA: gpt2 loss {loss.item():.6f}, linear sum(y*R) {(y * R).sum().item():.6f}')

    # ---- IA3 on the GPT-2: c_attn's output (bias included) and mlp.c_proj's input.
    ia3 = {}
    for i in range(cfg['n_layer']):
        for t in case['ia3_targets']:
            m = f'h.{i}.{t}'
            n_in, n_out = p[f'{m}.weight'].shape
            ff = t in case['ia3_feedforward']
            ia3[m] = ((1 + 0.3 * randn(1, n_in) if ff else 1 + 0.3 * randn(n_out, 1)).requires_grad_(), ff)
    linear = lambda x, m: ia3_layer(x, p[f'{m}.weight'], p[f'{m}.bias'], ia3[m][0], ia3[m][1], True) if m in ia3 else plain(x, m)
    logits = gpt2(p, cfg, ids, linear)
    loss = lm_loss(logits, labels)
    loss.backward()
    out = {'gpt2.loss': loss.reshape(1), 'gpt2.logits': logits}
    for m, (l, _) in ia3.items():
        out[f'gpt2.param.{m}.ia3_l.default'] = l
        out[f'gpt2.grad.{m}.ia3_l.default'] = l.grad

    # ---- IA3 on the Llama: k_proj's and v_proj's outputs, down_proj's input.
    lia3 = {}
    for i in range(lcfg['num_hidden_layers']):
        for t in case['llama']['ia3_targets']:
            m = f'model.layers.{i}.{"mlp" if t == "down_proj" else "self_attn"}.{t}'
            n_out, n_in = lp[f'{m}.weight'].shape
            ff = t in case['llama']['ia3_feedforward']
            lia3[m] = ((1 + 0.3 * randn(1, n_in) if ff else 1 + 0.3 * randn(n_out, 1)).requires_grad_(), ff)
    logits = llama(lp, lcfg, lids, lambda x, m: ia3_layer(x, lp[f'{m}.weight'], None, lia3[m][0], lia3[m][1], False) if m in lia3 else lplain(x, m))
    lloss = lm_loss(logits, llabels)
    lloss.backward()
    out.update({'llama.loss': lloss.reshape(1), 'llama.logits': logits})
    for m, (l, _) in lia3.items():
        out[f'llama.param.{m}.ia3_l.default'] = l
        out[f'llama.grad.{m}.ia3_l.default'] = l.grad

    # ---- IA3 on two nn.Linear layers: l1's output (with its bias), l2's input (feed-forward).
    x = x.detach().clone().requires_grad_()
    l1 = (1 + 0.3 * randn(W1.shape[0], 1)).requires_grad_()
    l2 = (1 + 0.3 * randn(1, W2.shape[1])).requires_grad_()
    y = ia3_layer(torch.tanh(ia3_layer(x, W1, b1, l1, False, False)), W2, None, l2, True, False)
    (y * R).sum().backward()
    out.update({'linear.x': x, 'linear.l1.weight': W1, 'linear.l1.bias': b1, 'linear.l2.weight': W2, 'linear.R': R, 'linear.y': y, 'linear.grad.x': x.grad,
                'linear.param.l1.ia3_l.default': l1, 'linear.grad.l1.ia3_l.default': l1.grad,
                'linear.param.l2.ia3_l.default': l2, 'linear.grad.l2.ia3_l.default': l2.grad})
    write_safetensors(os.path.join(OUT, 'ia3.safetensors'), out)
    print(f'IA3: gpt2 loss {loss.item():.6f}, linear sum(y*R) {(y * R).sum().item():.6f}')
    with open(os.path.join(OUT, 'case.json'), 'w') as f:
        json.dump(case, f, indent=1)


if __name__ == '__main__':
    main()
