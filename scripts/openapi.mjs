// Writes the OpenAPI document of the HTTP API (part of `npm run build`, after tsc):
// dist/clients/http/openapi.json, which GET /api/openapi.json serves (clients/http/openapi.ts).
// The paths come from the route table, through dist/clients/http/openapi-document.js; the schemas
// from the TypeScript types the routes name (SCHEMA_SOURCES), converted here with the TypeScript
// compiler's own type checker, so that the one definition of each record in schema/ (its fields,
// their types and their comments) is also the document's. A type this converter does not know how
// to write as JSON Schema fails the build, naming it.
import ts from 'typescript';
import { writeFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { openApiDocument, SCHEMA_SOURCES } = await import(pathToFileURL(`${root}/dist/clients/http/openapi-document.js`).href);
const { OPENAPI_FILE } = await import(pathToFileURL(`${root}/dist/clients/http/openapi.js`).href);

const config = ts.getParsedCommandLineOfConfigFile(
  `${root}/tsconfig.json`,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
);
const files = [...new Set(SCHEMA_SOURCES.map((s) => resolve(root, s.file)))];
const program = ts.createProgram(files, config.options);
const checker = program.getTypeChecker();

/** The schemas made so far, by name; and the type each name stands for (two types of one name fail the build). */
const schemas = {};
const named = new Map();

/** A declaration of the project's own (not of a package or of TypeScript's lib). */
const ours = (symbol) =>
  (symbol.declarations ?? []).some((d) => {
    const file = relative(root, d.getSourceFile().fileName);
    return !file.startsWith('..') && !file.split(sep).includes('node_modules');
  });

/** A symbol's comment, as a description (undefined when it has none). */
function description(symbol) {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  if (text !== '') return text;
  // `type ServiceState = (typeof SERVICE_STATES)[number]`: the comment of the constant it is made from
  const declaration = symbol.declarations?.find(ts.isTypeAliasDeclaration);
  let made;
  const find = (node) => {
    if (ts.isTypeQueryNode(node)) made ??= checker.getSymbolAtLocation(node.exprName);
    ts.forEachChild(node, find);
  };
  if (declaration) find(declaration.type);
  return made && made !== symbol ? description(made) : undefined;
}

/** The type alias of ours a property's declaration names (`state: ServiceState`), which its type may no longer show. */
function aliasNamed(property) {
  const node = property.valueDeclaration?.type;
  if (!node || !ts.isTypeReferenceNode(node) || node.typeArguments) return null;
  let symbol = checker.getSymbolAtLocation(node.typeName);
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  return symbol && symbol.flags & ts.SymbolFlags.TypeAlias && ours(symbol) ? symbol : null;
}

/** What names a type: its own type alias, or its interface (not a generic one's instance); null for a type written in place. */
function nameOf(type) {
  if (type.aliasSymbol && !type.aliasTypeArguments && ours(type.aliasSymbol)) return type.aliasSymbol;
  const symbol = type.getSymbol();
  const isInterface = type.flags & ts.TypeFlags.Object && type.objectFlags & ts.ObjectFlags.Interface;
  if (symbol && isInterface && ours(symbol) && !(type.typeParameters?.length > 0)) return symbol;
  return null;
}

/** A reference to a named type's schema, which is made the first time. */
function reference(symbol, type) {
  const name = symbol.name;
  const known = named.get(name);
  if (known === undefined) {
    named.set(name, type);
    const schema = inline(type, name);
    const about = description(symbol);
    schemas[name] = about === undefined ? schema : { description: about, ...schema };
  } else if (known !== type) throw new Error(`two types are named ${name}: the document's schemas need one name each`);
  return { $ref: `#/components/schemas/${name}` };
}

function schemaOf(type, where) {
  const symbol = nameOf(type);
  return symbol ? reference(symbol, type) : inline(type, where);
}

/** A union: its literals as one enum, its plain types as one `type` list, anything else beside them in anyOf. */
function union(types, where) {
  let members = types.filter((t) => !(t.flags & ts.TypeFlags.Undefined));
  const hasTrue = members.some((t) => t.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(t) === 'true');
  const hasFalse = members.some((t) => t.flags & ts.TypeFlags.BooleanLiteral && checker.typeToString(t) === 'false');
  const boolean = hasTrue && hasFalse;
  if (boolean) members = members.filter((t) => !(t.flags & ts.TypeFlags.BooleanLiteral));
  // A union of literals, named or not, is one enum (with null when null is one of them)
  const literal = (t) => t.flags & (ts.TypeFlags.StringLiteral | ts.TypeFlags.NumberLiteral);
  const literals = members.filter(literal);
  const hasNull = members.some((t) => t.flags & ts.TypeFlags.Null);
  const rest = members.filter((t) => !literal(t) && !(t.flags & ts.TypeFlags.Null));
  const parts = rest.map((t) => schemaOf(t, where));
  if (boolean) parts.push({ type: 'boolean' });
  if (literals.length > 0) {
    const values = literals.map((t) => t.value);
    const kinds = [...new Set(values.map((v) => typeof v))];
    parts.push({ type: kinds.length === 1 ? kinds[0] : kinds, enum: values });
  }
  if (hasNull) parts.push({ type: 'null' });
  const plain = parts.every((p) => Object.keys(p).length === 1 && typeof p.type === 'string');
  if (parts.length === 1) return parts[0];
  if (plain) return { type: parts.map((p) => p.type) };
  // literals and null together: one enum that holds null
  if (parts.length === 2 && hasNull && literals.length > 0 && rest.length === 0 && !boolean) {
    const e = parts[0];
    return { type: [...[e.type].flat(), 'null'], enum: [...e.enum, null] };
  }
  return { anyOf: parts };
}

/** An object's properties (optional ones not required), and its index signature as additionalProperties. */
function object(type, where) {
  if (type.getCallSignatures().length > 0) throw new Error(`${where}: a function has no JSON form`);
  const properties = {};
  const required = [];
  for (const property of checker.getPropertiesOfType(type)) {
    const at = `${where}.${property.name}`;
    const alias = aliasNamed(property);
    const schema = alias ? reference(alias, checker.getDeclaredTypeOfSymbol(alias)) : schemaOf(checker.getTypeOfSymbol(property), at);
    const about = description(property);
    properties[property.name] = about === undefined ? schema : { ...schema, description: about };
    if (!(property.flags & ts.SymbolFlags.Optional)) required.push(property.name);
  }
  const schema = { type: 'object' };
  if (Object.keys(properties).length > 0) schema.properties = properties;
  if (required.length > 0) schema.required = required;
  for (const index of checker.getIndexInfosOfType(type)) {
    if (!(index.keyType.flags & ts.TypeFlags.String)) throw new Error(`${where}: only string keys have a JSON form`);
    const values = inlineOrRef(index.type, `${where}[key]`);
    if (Object.keys(values).length > 0) schema.additionalProperties = values;
  }
  return schema;
}

const inlineOrRef = (type, where) => (type.flags & ts.TypeFlags.Never ? false : schemaOf(type, where));

/** The schema of a type written in place (or the body of a named one). */
function inline(type, where) {
  const f = type.flags;
  if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return {};
  if (f & ts.TypeFlags.String) return { type: 'string' };
  if (f & ts.TypeFlags.Number) return { type: 'number' };
  if (f & ts.TypeFlags.Boolean) return { type: 'boolean' };
  if (f & ts.TypeFlags.Null) return { type: 'null' };
  if (f & ts.TypeFlags.StringLiteral) return { type: 'string', const: type.value };
  if (f & ts.TypeFlags.NumberLiteral) return { type: 'number', const: type.value };
  if (f & ts.TypeFlags.BooleanLiteral) return { type: 'boolean', const: checker.typeToString(type) === 'true' };
  if (f & ts.TypeFlags.Union) return union(type.types, where);
  if (checker.isArrayType(type) || checker.isReadonlyArrayType?.(type))
    return { type: 'array', items: schemaOf(checker.getTypeArguments(type)[0], `${where}[]`) };
  if (checker.isTupleType(type)) {
    // A fixed list, each place its own type (JSON Schema 2020-12's prefixItems); optional or rest elements are not written.
    const target = type.target;
    if (target.hasRestElement || target.minLength !== target.fixedLength)
      throw new Error(`${where}: tuples with optional or rest elements are not written as JSON Schema here`);
    const items = checker.getTypeArguments(type).map((t, i) => schemaOf(t, `${where}[${i}]`));
    return { type: 'array', prefixItems: items, items: false, minItems: items.length, maxItems: items.length };
  }
  if (f & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) return object(type, where);
  throw new Error(`${where}: no JSON Schema for the type ${checker.typeToString(type)}`);
}

for (const source of SCHEMA_SOURCES) {
  const file = program.getSourceFile(resolve(root, source.file));
  const symbol = file && checker.getExportsOfModule(checker.getSymbolAtLocation(file)).find((s) => s.name === source.type);
  if (!symbol) throw new Error(`${source.file} exports no type ${source.type}`);
  const type = checker.getDeclaredTypeOfSymbol(symbol);
  if (!source.each) {
    reference(symbol, type);
    continue;
  }
  // Each property is a schema of the property's name: a named type of that name, or the type written there
  for (const property of checker.getPropertiesOfType(type)) {
    const schema = schemaOf(checker.getTypeOfSymbol(property), `${source.type}.${property.name}`);
    if (schema.$ref === `#/components/schemas/${property.name}`) continue;
    if (property.name in schemas) throw new Error(`${source.type}.${property.name}: another schema has that name`);
    const about = description(property);
    schemas[property.name] = about === undefined ? schema : { description: about, ...schema };
  }
}

const document = openApiDocument(schemas);
writeFileSync(OPENAPI_FILE, JSON.stringify(document, null, 2) + '\n');
