import { coreError, type VlabError, type VlabErrorOptions } from '@vlab/core';
import { managerError } from '../errors.js';

/**
 * The errors of the state layer, in one place. The manager has no codes of its own for them yet,
 * so each is a core code with a hint that says what to do in this case; when the manager's error
 * table gains `VLAB_ERR_DATABASE_*` codes, only this file changes.
 */

/** PostgreSQL could not be set up, started or reached; the summary says why. */
export function databaseStartError(summary: string, options: VlabErrorOptions): VlabError {
  return managerError('VLAB_ERR_DATABASE_START_FAILED', summary, options);
}

/** A schema migration failed or the database holds a schema this manager does not know. */
export function migrationError(summary: string, options: VlabErrorOptions): VlabError {
  return managerError('VLAB_ERR_DATABASE_MIGRATION_FAILED', summary, options);
}

/** A value handed to the state layer was refused; `field` names it. Nothing was written. */
export function invalidValueError(
  field: string,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return coreError('VLAB_ERR_CONFIG_INVALID', summary, {
    ...options,
    details: { field, ...options.details },
    hint:
      options.hint ??
      `Fix the value of "${field}" and try again; nothing was written to the database.`,
  });
}
