// The configuration subsystem's public API: reading and checking upkeeper.conf and the service files.
export type { ConfigIssue, ControllerConfig, CustomAction, InitialState, LoadedServices, ServiceConfig } from './types.js';
export { resolveConfigFile, loadControllerConfig, type ConfigOptions } from './controller-config.js';
export { loadServices } from './load-services.js';
export { checkEnvironmentFiles } from './environment-files.js';
export { checkOutputFiles } from './output-files.js';
export { hookProgramIssues } from './on-event.js';
export { formatIssue } from './issues.js';
export { CONFIG_FILE_MAX_BYTES } from './read-file.js';
export { parseJsonc } from './jsonc.js';
export { SERVICE_KEYS, CONTROLLER_KEYS, type KeySpec, type ValueType } from './keys.js';
export { isValidServiceId, parseServiceId } from './names.js';
export { controllerSchema, serviceSchema } from './json-schema.js';
