/**
 * Errors that carry a user-facing meaning. The HTTP layer turns them into `{error:{code,message,field}}`
 * with the matching status; anything else is a 500 that reveals nothing.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(field: string, message: string) {
    super(400, 'validation_failed', message, field);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

/** Optimistic concurrency: the caller edited an older version than the stored one. */
export class ConflictError extends AppError {
  constructor(message: string, current?: unknown) {
    super(409, 'conflict', message, 'version', current === undefined ? undefined : { current });
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do that') {
    super(403, 'forbidden', message);
  }
}
