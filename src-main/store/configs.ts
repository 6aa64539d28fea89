/** The saved_configs table: run configurations kept under a name for the New run form. */
import type Database from 'better-sqlite3';
import type { SavedConfig } from '../contract/areas/library.ts';
import type { JsonObject, Page, RunMethod } from '../contract/entities.ts';

const COLUMNS = 'id, name, method, config, created_at AS createdAt, updated_at AS updatedAt';

type ConfigRow = Omit<SavedConfig, 'config'> & { config: string };

function toConfig(row: ConfigRow): SavedConfig {
  return { ...row, config: JSON.parse(row.config) as JsonObject };
}

export function createConfigsRepository(db: Database.Database) {
  // A name saved again keeps its id and creation time.
  const upsert = db.prepare<[string, string, string, number, number]>(
    `INSERT INTO saved_configs (name, method, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET method = excluded.method, config = excluded.config, updated_at = excluded.updated_at`,
  );
  const byName = db.prepare<[string], ConfigRow>(`SELECT ${COLUMNS} FROM saved_configs WHERE name = ?`);
  const byId = db.prepare<[number], ConfigRow>(`SELECT ${COLUMNS} FROM saved_configs WHERE id = ?`);
  const page = db.prepare<[number, number], ConfigRow>(`SELECT ${COLUMNS} FROM saved_configs ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`);
  const total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM saved_configs');
  const remove = db.prepare<[number]>('DELETE FROM saved_configs WHERE id = ?');

  return {
    save(entry: { name: string; method: RunMethod; config: JsonObject }, now: number = Date.now()): SavedConfig {
      upsert.run(entry.name, entry.method, JSON.stringify(entry.config), now, now);
      return toConfig(byName.get(entry.name)!);
    },

    get(id: number): SavedConfig | undefined {
      const row = byId.get(id);
      return row && toConfig(row);
    },

    list(limit: number, offset: number): Page<SavedConfig> {
      return { items: page.all(limit, offset).map(toConfig), total: total.get()!.n };
    },

    delete(id: number): boolean {
      return remove.run(id).changes > 0;
    },
  };
}

export type ConfigsRepository = ReturnType<typeof createConfigsRepository>;
