// JSON Schema (draft-07) of both config file kinds, generated from the key table (keys.ts).
import { DURATION_PATTERN } from '../durations.js';
import { MAX_CUSTOM_ACTIONS } from '../run-dir.js';
import { CONTROLLER_KEYS, INITIAL_STATE_WORDS, type KeySpec, SERVICE_KEYS, type ValueType } from './keys.js';
import { onEventSchema } from './on-event.js';
import { NAME_PATTERN, PREREQUISITE_PATTERN, RESERVED_ACTION_NAMES, SERVICE_ID_PATTERN, UUID_PATTERN } from './names.js';

type Schema = Record<string, unknown>;

const DRAFT = 'http://json-schema.org/draft-07/schema#';
const NON_BLANK = '\\S';
const CASE_NOTE = 'Keys are matched in any letter case; this schema lists the canonical spelling.';

/** A regex source matching `word` in any letter case (JSON Schema patterns have no flags). */
function anyCase(word: string): string {
  return [...word]
    .map((c) => (c.toLowerCase() === c.toUpperCase() ? c.replace(/[.\\]/g, '\\$&') : `[${c.toUpperCase()}${c.toLowerCase()}]`))
    .join('');
}

const ACTION_NAME_PATTERN = `^(?![0-9]+$)(?!(?:${RESERVED_ACTION_NAMES.map(anyCase).join('|')})$)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`;

function types(base: string | string[], nullable: boolean): string | string[] {
  const list = Array.isArray(base) ? base : [base];
  const all = nullable ? [...list, 'null'] : list;
  return all.length === 1 ? (all[0] as string) : all;
}

function typeSchema(type: ValueType): Schema {
  switch (type.kind) {
    case 'number': {
      const base = type.integer ? 'integer' : 'number';
      const s: Schema = { type: types(type.seconds ? [base, 'string'] : base, type.nullable === true) };
      if (type.seconds) s['pattern'] = DURATION_PATTERN; // a number of seconds, or a duration with a unit
      if (type.min !== undefined) s[type.minExclusive ? 'exclusiveMinimum' : 'minimum'] = type.min;
      if (type.max !== undefined) s['maximum'] = type.max;
      return s;
    }
    case 'boolean':
      return { type: 'boolean' };
    case 'text':
      return type.nonEmpty ? { type: types('string', type.nullable), pattern: NON_BLANK } : { type: types('string', type.nullable) };
    case 'command':
      // A shell line, or the program and its arguments: a list of strings, the first not empty.
      return {
        type: types(['string', 'array'], type.nullable),
        pattern: NON_BLANK,
        minItems: 1,
        items: [{ type: 'string', minLength: 1 }],
        additionalItems: { type: 'string' },
      };
    case 'name':
      return { type: types('string', type.nullable), pattern: `^${NAME_PATTERN}$` };
    case 'script':
      return { type: types('string', type.nullable), pattern: NON_BLANK };
    case 'path':
      return { type: types('string', type.nullable), minLength: 1 };
    case 'uuid':
      return { type: ['string', 'null'], pattern: `^${UUID_PATTERN}$` };
    case 'list':
      return { type: 'array', items: { type: 'string', pattern: type.item === 'provides' ? `^${NAME_PATTERN}$` : PREREQUISITE_PATTERN } };
    case 'account':
      return { type: ['integer', 'string', 'null'], minimum: 0, pattern: '^(?![0-9]+$).+$' };
    case 'state':
      return { type: 'string', enum: Object.keys(INITIAL_STATE_WORDS) };
    case 'actions':
      return {
        type: 'object',
        maxProperties: MAX_CUSTOM_ACTIONS,
        propertyNames: { pattern: ACTION_NAME_PATTERN },
        additionalProperties: { type: 'string', pattern: NON_BLANK },
      };
    case 'environment':
      return { type: 'object', propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, additionalProperties: { type: ['string', 'null'] } };
    case 'envFiles':
      // A string is one path, a list several; `minLength` applies to strings, `items` to lists.
      return { type: ['string', 'array'], minLength: 1, items: { type: 'string', minLength: 1 } };
    case 'defaults':
      return { $ref: '#/definitions/serviceDefaults' };
    case 'hooks':
      return onEventSchema();
    case 'probe':
      return typeSchema({ kind: 'command', nullable: type.nullable });
    case 'choice':
      return { type: 'string', enum: [...type.words] };
    case 'regex':
      return { type: types('string', type.nullable), minLength: 1 };
    case 'listen': {
      const address = { type: 'string', pattern: '^(tcp:(([0-9.]+|\\[[0-9A-Fa-f:.]+\\]):)?[0-9]{1,5}|unix:.+)$' };
      const socket = {
        anyOf: [
          address,
          {
            type: 'object',
            required: ['Address'],
            additionalProperties: false,
            properties: {
              Address: address,
              Name: { type: 'string', pattern: '^[A-Za-z0-9_.@+-]{1,255}$' },
              Backlog: { type: 'integer', minimum: 1, maximum: 65535 },
              Mode: { type: 'string', pattern: '^0?[0-7]{3}$' },
            },
          },
        ],
      };
      return { anyOf: [socket, { type: 'array', items: socket }] };
    }
    case 'bytes':
      return {
        type: types(['integer', 'string'], type.nullable),
        minimum: 0,
        pattern: '^\\s*\\d+(\\.\\d+)?\\s*[KkMmGgTt]?([Ii]?[Bb])?\\s*$',
      };
    case 'schedule':
      // (croner checks a cron expression's fields; the schema only asks for text)
      return { type: types('string', type.nullable), pattern: NON_BLANK };
    case 'postgresUrl':
      return { type: types('string', type.nullable), pattern: '^postgres(ql)?://' };
    case 'fleetHost':
      // (lone surrogates are checked by upkeeper only)
      return { type: types('string', type.nullable), minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$' };
  }
}

function keySchema(spec: KeySpec): Schema {
  if (spec.type.kind === 'defaults') return typeSchema(spec.type);
  const s: Schema = { description: spec.description, ...typeSchema(spec.type) };
  if (spec.default !== undefined) s['default'] = spec.default;
  return s;
}

function properties(specs: readonly KeySpec[]): Schema {
  return Object.fromEntries(specs.map((spec) => [spec.name, keySchema(spec)]));
}

const SCHEMA_KEY: Schema = { description: 'The JSON Schema of this file, for editors; ignored by upkeeper.', type: 'string' };

function serviceObject(description: string, specs: readonly KeySpec[]): Schema {
  return { description: `${description} ${CASE_NOTE}`, type: 'object', properties: properties(specs), additionalProperties: false };
}

/** schema/upkeeper.schema.json: the controller config file. */
export function controllerSchema(): Schema {
  return {
    $schema: DRAFT,
    title: 'upkeeper controller configuration (upkeeper.conf)',
    description: `The controller's settings and the defaults of every service. JSON with comments and trailing commas. ${CASE_NOTE}`,
    type: 'object',
    properties: { $schema: SCHEMA_KEY, ...properties(CONTROLLER_KEYS) },
    additionalProperties: false,
    definitions: {
      serviceDefaults: serviceObject(
        (CONTROLLER_KEYS.find((spec) => spec.name === 'ServiceDefaults') as KeySpec).description,
        SERVICE_KEYS.filter((spec) => spec.serviceOnly !== true),
      ),
    },
  };
}

/** schema/service.schema.json: a service file (service id → service keys). */
export function serviceSchema(): Schema {
  return {
    $schema: DRAFT,
    title: 'upkeeper service file (upkeeper.d/*.conf)',
    description: `Services keyed by service id: "name" or "package::name", each part 1 to 64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit. JSON with comments and trailing commas.`,
    type: 'object',
    properties: { $schema: SCHEMA_KEY },
    patternProperties: { [SERVICE_ID_PATTERN]: { $ref: '#/definitions/service' } },
    additionalProperties: false,
    definitions: { service: serviceObject('One service: built-in defaults, then ServiceDefaults, then these keys.', SERVICE_KEYS) },
  };
}

/** File name (in schema/) → exact file text. */
export function schemaFiles(): [string, string][] {
  return [
    ['upkeeper.schema.json', `${JSON.stringify(controllerSchema(), null, 2)}\n`],
    ['service.schema.json', `${JSON.stringify(serviceSchema(), null, 2)}\n`],
  ];
}
