// A service's configuration as the database stores it (services.config): read back for services the
// files no longer define, and for the history of removed ones.
import type { ServiceConfig } from './config/types.js';

/** A ServiceConfig as stored in the database (JSON text), or null if it does not look like one. */
export function storedConfig(json: string): ServiceConfig | null {
  try {
    return configValue(JSON.parse(json));
  } catch {
    return null;
  }
}

/** A ServiceConfig already parsed (the fleet database's jsonb), or null if it does not look like one. */
export function configValue(v: unknown): ServiceConfig | null {
  const c = v as Partial<ServiceConfig> | null;
  return c !== null && typeof c === 'object' && typeof c.id === 'string' && typeof c.startScript === 'string' && typeof c.file === 'string'
    ? (c as ServiceConfig)
    : null;
}
