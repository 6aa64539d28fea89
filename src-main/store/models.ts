/** The models table: trained or imported weights, with their architecture and provenance. */
import type Database from 'better-sqlite3';
import type { JsonObject, Model, Page } from '../contract/entities.ts';

export type NewModel = Omit<Model, 'id' | 'createdAt' | 'runId'> & { runId?: number | null };

const COLUMNS = `id, name, architecture, param_count AS paramCount, path, bytes_on_disk AS bytesOnDisk,
  source, run_id AS runId, created_at AS createdAt`;

type ModelRow = Omit<Model, 'architecture' | 'source'> & { architecture: string; source: string };

function toModel(row: ModelRow): Model {
  return { ...row, architecture: JSON.parse(row.architecture) as JsonObject, source: JSON.parse(row.source) as JsonObject };
}

export function createModelsRepository(db: Database.Database) {
  const insert = db.prepare<[string, string, number, string, number, string, number | null, number]>(
    `INSERT INTO models (name, architecture, param_count, path, bytes_on_disk, source, run_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byId = db.prepare<[number], ModelRow>(`SELECT ${COLUMNS} FROM models WHERE id = ?`);
  const page = db.prepare<[number, number], ModelRow>(`SELECT ${COLUMNS} FROM models ORDER BY id DESC LIMIT ? OFFSET ?`);
  const total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM models');
  const remove = db.prepare<[number]>('DELETE FROM models WHERE id = ?');
  const setPath = db.prepare<[string, number]>('UPDATE models SET path = ? WHERE id = ?');

  return {
    add(model: NewModel, now: number = Date.now()): Model {
      const { lastInsertRowid } = insert.run(
        model.name,
        JSON.stringify(model.architecture),
        model.paramCount,
        model.path,
        model.bytesOnDisk,
        JSON.stringify(model.source),
        model.runId ?? null,
        now,
      );
      return toModel(byId.get(Number(lastInsertRowid))!);
    },

    get(id: number): Model | undefined {
      const row = byId.get(id);
      return row && toModel(row);
    },

    list(limit: number, offset: number): Page<Model> {
      return { items: page.all(limit, offset).map(toModel), total: total.get()!.n };
    },

    delete(id: number): boolean {
      return remove.run(id).changes > 0;
    },

    count(): number {
      return total.get()!.n;
    },

    /** Points the row at another folder (an import stages its files, then moves them to `models/<id>`). */
    setPath(id: number, path: string): void {
      setPath.run(path, id);
    },
  };
}

export type ModelsRepository = ReturnType<typeof createModelsRepository>;
