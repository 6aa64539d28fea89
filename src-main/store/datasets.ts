/** The datasets table: generated or imported example sets, with per-split counts and a preview. */
import type Database from 'better-sqlite3';
import type { Dataset, Page } from '../contract/entities.ts';

export type NewDataset = Omit<Dataset, 'id' | 'createdAt'>;

const COLUMNS = `id, name, kind, content_hash AS contentHash, split_counts AS splitCounts, path, preview,
  created_at AS createdAt`;

type DatasetRow = Omit<Dataset, 'splitCounts' | 'preview'> & { splitCounts: string; preview: string };

function toDataset(row: DatasetRow): Dataset {
  return { ...row, splitCounts: JSON.parse(row.splitCounts) as Record<string, number>, preview: JSON.parse(row.preview) as string[] };
}

export function createDatasetsRepository(db: Database.Database) {
  const insert = db.prepare<[string, string, string, string, string, string, number]>(
    `INSERT INTO datasets (name, kind, content_hash, split_counts, path, preview, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const byId = db.prepare<[number], DatasetRow>(`SELECT ${COLUMNS} FROM datasets WHERE id = ?`);
  const page = db.prepare<[number, number], DatasetRow>(`SELECT ${COLUMNS} FROM datasets ORDER BY id DESC LIMIT ? OFFSET ?`);
  const total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM datasets');
  const setPath = db.prepare<[string, number]>('UPDATE datasets SET path = ? WHERE id = ?');

  return {
    add(dataset: NewDataset, now: number = Date.now()): Dataset {
      const { lastInsertRowid } = insert.run(
        dataset.name,
        dataset.kind,
        dataset.contentHash,
        JSON.stringify(dataset.splitCounts),
        dataset.path,
        JSON.stringify(dataset.preview),
        now,
      );
      return toDataset(byId.get(Number(lastInsertRowid))!);
    },

    get(id: number): Dataset | undefined {
      const row = byId.get(id);
      return row && toDataset(row);
    },

    list(limit: number, offset: number): Page<Dataset> {
      return { items: page.all(limit, offset).map(toDataset), total: total.get()!.n };
    },

    count(): number {
      return total.get()!.n;
    },

    /** The dataset of this name, any case ("4×4 Mult" and "4×4 mult" are one name to a person). */
    byName(name: string): Dataset | undefined {
      const row = db.prepare<[string], DatasetRow>(`SELECT ${COLUMNS} FROM datasets WHERE lower(name) = lower(?) LIMIT 1`).get(name);
      return row && toDataset(row);
    },

    rename(id: number, name: string): Dataset | undefined {
      db.prepare<[string, number]>('UPDATE datasets SET name = ? WHERE id = ?').run(name, id);
      return this.get(id);
    },

    delete(id: number): boolean {
      return db.prepare<[number]>('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
    },

    /** A split added to the dataset's folder: its counts and the folder's hash change. */
    setSplits(id: number, splitCounts: Record<string, number>, contentHash: string): void {
      db.prepare<[string, string, number]>('UPDATE datasets SET split_counts = ?, content_hash = ? WHERE id = ?').run(JSON.stringify(splitCounts), contentHash, id);
    },

    /** Points the row at another folder (an import stages its files, then moves them to `datasets/<id>`). */
    setPath(id: number, path: string): void {
      setPath.run(path, id);
    },
  };
}

export type DatasetsRepository = ReturnType<typeof createDatasetsRepository>;
