/**
 * The probes table: one row per probe job (a capture of hidden states and the
 * probes fitted on it, for one model or every checkpoint of a run). The
 * captures and results are files under `probes/<id>/` (engine/probes/capture.ts
 * documents the layout); the row holds the request, the status, the folder,
 * its size and a summary of what is there (points probed, targets, slots).
 */
import type Database from 'better-sqlite3';
import type { Probe, ProbeStatus, ProbeSummary } from '../contract/areas/probes.ts';
import type { JsonObject } from '../contract/entities.ts';

interface Row {
  id: number;
  name: string;
  runId: number | null;
  config: string;
  status: ProbeStatus;
  path: string;
  bytes: number;
  summary: string;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

const COLUMNS = 'id, name, run_id AS runId, config, status, path, bytes, summary, error, created_at AS createdAt, finished_at AS finishedAt';

const EMPTY_SUMMARY: ProbeSummary = { points: [], targets: [], slots: [], layers: 0, examples: 0 };

function toProbe(r: Row): Probe {
  return { ...r, config: JSON.parse(r.config) as JsonObject, summary: JSON.parse(r.summary) as ProbeSummary };
}

export function createProbesRepository(db: Database.Database) {
  const insert = db.prepare<[string, number | null, string, string, number]>(
    "INSERT INTO probes (name, run_id, config, status, path, bytes, summary, created_at) VALUES (?, ?, ?, 'running', ?, 0, '{}', ?)",
  );
  const setPath = db.prepare<[string, string, number]>('UPDATE probes SET path = ?, summary = ? WHERE id = ?');
  const byId = db.prepare<[number], Row>(`SELECT ${COLUMNS} FROM probes WHERE id = ?`);
  const page = db.prepare<[number, number], Row>(`SELECT ${COLUMNS} FROM probes ORDER BY id DESC LIMIT ? OFFSET ?`);
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM probes');
  const update = db.prepare<[string, number, number]>('UPDATE probes SET summary = ?, bytes = ? WHERE id = ?');
  const finish = db.prepare<[ProbeStatus, string | null, number, number, number]>('UPDATE probes SET status = ?, error = ?, finished_at = ?, bytes = ? WHERE id = ?');
  const remove = db.prepare<[number]>('DELETE FROM probes WHERE id = ?');
  const stale = db.prepare<[], Row>(`SELECT ${COLUMNS} FROM probes WHERE status = 'running'`);

  return {
    /** A new running job; its folder is `probes/<id>`. */
    add(p: { name: string; runId: number | null; config: JsonObject }, now: number = Date.now()): Probe {
      return db.transaction(() => {
        const { lastInsertRowid } = insert.run(p.name, p.runId, JSON.stringify(p.config), `probes/.new-${now}-${Math.random()}`, now);
        const id = Number(lastInsertRowid);
        setPath.run(`probes/${id}`, JSON.stringify(EMPTY_SUMMARY), id);
        return toProbe(byId.get(id)!);
      })();
    },
    get(id: number): Probe | undefined {
      const r = byId.get(id);
      return r ? toProbe(r) : undefined;
    },
    list(limit: number, offset: number): { items: Probe[]; total: number } {
      return { items: page.all(limit, offset).map(toProbe), total: count.get()!.n };
    },
    setSummary(id: number, summary: ProbeSummary, bytes: number): Probe {
      update.run(JSON.stringify(summary), bytes, id);
      return toProbe(byId.get(id)!);
    },
    finish(id: number, status: Exclude<ProbeStatus, 'running'>, error: string | null, bytes: number, now: number = Date.now()): Probe {
      finish.run(status, error, now, bytes, id);
      return toProbe(byId.get(id)!);
    },
    delete(id: number): void {
      remove.run(id);
    },
    /** Jobs left 'running' (by a process that died, when none runs here). */
    running(): Probe[] {
      return stale.all().map(toProbe);
    },
  };
}

export type ProbesRepository = ReturnType<typeof createProbesRepository>;
