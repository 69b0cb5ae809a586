// Where the service files on this machine define a service, as written (even in a file with other
// problems): for the commands that write those files (upk add, upk scale, upk remove --delete-file).
import { listServiceFiles } from '../schema/config/load-services.js';
import { readText } from '../schema/config/read-file.js';
import { parseTree } from '../schema/config/jsonc.js';
import { parseServiceId } from '../schema/config/names.js';
import { isAddedFile } from '../schema/config/added-file.js';
import { readControllerConfig, type DiscoveryOptions } from './discovery.js';

export { ADDED_FILE_MARKER, addedFileText, isAddedFile } from '../schema/config/added-file.js';
export { setServiceNumber } from '../schema/config/jsonc-edit.js';

/** One service entry of a service file that a name means. */
export interface ServiceDefinition {
  /** The service id as the file writes it. */
  id: string;
  file: string;
  /** The line of its key. */
  line: number;
  /** The file's whole text, as read. */
  text: string;
  /** The file was written by `upk add` (its first line carries the marker). */
  addedByUpk: boolean;
  /** Its `Instances`, when written as a number; else null. */
  instances: number | null;
  /** When the name is one of its instances (`web@2`): that instance's number; else null. */
  instance: number | null;
  /** Every service id the file defines. */
  fileServices: string[];
}

/**
 * Every entry of the service files (`SvcConfigPath`, found as `connect()` finds the controller) that
 * `name` means: its id (in any letter case), its name alone (`worker` for `acme::worker`), or one of
 * its instances (`web@2` of a `web` with `Instances` 2 or more). A file that cannot be read or does
 * not parse is passed over (`checkConfiguration()` names it).
 */
export function findServiceDefinitions(name: string, options: DiscoveryOptions = {}): ServiceDefinition[] {
  const config = readControllerConfig(options);
  const listed = listServiceFiles(config.svcConfigPath);
  if ('message' in listed) return [];
  const wanted = name.toLowerCase();
  const found: ServiceDefinition[] = [];
  for (const file of listed.files) {
    const read = readText(file);
    if (!('text' in read)) continue;
    const { node } = parseTree(read.text, file);
    if (node?.kind !== 'object') continue;
    const fileServices = node.entries.map((e) => e.key).filter((k) => parseServiceId(k) !== null);
    for (const entry of node.entries) {
      const parsed = parseServiceId(entry.key);
      if (parsed === null) continue;
      const written =
        entry.value.kind === 'object' ? entry.value.entries.find((e) => e.key.toLowerCase() === 'instances')?.value : undefined;
      const instances = written?.kind === 'number' ? written.value : null;
      const id = entry.key.toLowerCase();
      const bare = parsed.name.toLowerCase();
      let instance: number | null = null;
      if (wanted !== id && wanted !== bare) {
        const m = /^(.*)@([1-9]\d*)$/.exec(wanted);
        if (m === null || instances === null || (m[1] !== id && m[1] !== bare) || Number(m[2]) > instances) continue;
        instance = Number(m[2]);
      }
      found.push({
        id: entry.key,
        file,
        line: entry.keyPos.line,
        text: read.text,
        addedByUpk: isAddedFile(read.text),
        instances,
        instance,
        fileServices,
      });
    }
  }
  // An exact id wins over a name alone.
  const exact = found.filter((d) => d.id.toLowerCase() === wanted);
  return exact.length > 0 ? exact : found;
}
