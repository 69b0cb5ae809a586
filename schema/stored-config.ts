// A service's configuration as the database stores it (services.config): read back for services the
// files no longer define, and for the history of removed ones.
import type { ServiceConfig } from './config/types.js';

/** A ServiceConfig as stored in the database, or null if it does not look like one. */
export function storedConfig(json: string): ServiceConfig | null {
  try {
    const c = JSON.parse(json) as ServiceConfig;
    return typeof c.id === 'string' && typeof c.startScript === 'string' && typeof c.file === 'string' ? c : null;
  } catch {
    return null;
  }
}
