/**
 * One shape for every validation failure, whether ajv (API bodies, via fastify) or TypeBox's
 * compiler (HTML forms) found it: `{ field, message }` in words a user understands.
 */
import { Compile } from 'typebox/compile';
import type { Static, TSchema } from 'typebox';

export interface FieldError {
  field: string;
  message: string;
}

/** The subset of an ajv / TypeBox error we read. */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const FORMAT_MESSAGES: Record<string, string> = {
  email: 'Enter a valid email address',
  uuid: 'Not a valid id',
  'date-time': 'Enter a date and time (ISO 8601)',
};

/** Turns the first meaningful schema error into a field and a sentence. */
export function describeSchemaErrors(errors: readonly SchemaError[], context?: string): FieldError {
  // A nullable field fails its "or null" branch too; that one is never the interesting error.
  const relevant = errors.filter((e) => e.keyword !== 'anyOf' && !(e.keyword === 'type' && e.params.type === 'null'));
  const e = relevant[0] ?? errors[0];
  if (!e) return { field: context ?? 'body', message: 'Invalid request' };
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const p = e.params;
  switch (e.keyword) {
    case 'required': {
      const missing = String(p.missingProperty ?? (p.requiredProperties as string[] | undefined)?.[0] ?? '');
      const field = path ? `${path}.${missing}` : missing;
      return { field, message: `${humanName(missing)} is required` };
    }
    case 'additionalProperties': {
      const extra = String(p.additionalProperty ?? (p.additionalProperties as string[] | undefined)?.[0] ?? '');
      return { field: path ? `${path}.${extra}` : extra, message: `Unknown field "${extra}"` };
    }
    case 'format':
      return { field: path, message: FORMAT_MESSAGES[String(p.format)] ?? `Must be a valid ${String(p.format)}` };
    case 'minLength':
      return { field: path, message: Number(p.limit) <= 1 ? `${humanName(path)} must not be empty` : `${humanName(path)} must be at least ${String(p.limit)} characters` };
    case 'maxLength':
      return { field: path, message: `${humanName(path)} must be at most ${String(p.limit)} characters` };
    case 'pattern':
      return {
        field: path,
        message: String(p.pattern).includes('u0000')
          ? `${humanName(path)} must be one line of text without control characters`
          : `${humanName(path)} has the wrong format`,
      };
    case 'minimum':
    case 'maximum':
      return { field: path, message: `${humanName(path)} must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(p.limit)}` };
    case 'const':
    case 'enum':
      return { field: path, message: `${humanName(path)} is not one of the allowed values` };
    case 'type':
      return { field: path || context || 'body', message: `${humanName(path || 'value')} must be ${article(String(p.type))}` };
    default:
      return { field: path, message: e.message ?? 'Invalid value' };
  }
}

function humanName(field: string): string {
  const name = field.split('.').pop() ?? field;
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** A compiled checker for HTML form input, giving the same errors as the API. */
export function formValidator<T extends TSchema>(schema: T) {
  const validator = Compile(schema);
  return (value: unknown): { ok: true; value: Static<T> } | { ok: false; error: FieldError } => {
    if (validator.Check(value)) return { ok: true, value: value as Static<T> };
    return { ok: false, error: describeSchemaErrors(validator.Errors(value) as unknown as SchemaError[]) };
  };
}
