import { type ErrorCodeInfo, VlabError, type VlabErrorOptions } from '@vlab/core';

/**
 * The error codes of `@vlab/manager` besides the core codes it throws (`VLAB_ERR_CONFIG_INVALID`
 * for a wrong configuration file or module settings, `VLAB_ERR_MODULE_INVALID` and
 * `VLAB_ERR_MODULE_CONTRACT_MISMATCH` for a module package that cannot be used, and
 * `VLAB_ERR_CONFIG_INVALID` for a value refused by the state layer); documented in
 * docs/errors.md.
 * @public
 */
export const MANAGER_ERROR_CODES = {
  VLAB_ERR_CONFIG_UNREADABLE: {
    meaning:
      'The configuration file could not be read: it does not exist, is a directory, or the manager may not read it.',
    hint: "Check the path given to the manager and that the file is readable by the manager's user.",
  },
  VLAB_ERR_MODULE_NOT_INSTALLED: {
    meaning:
      "A module package the configuration names is not installed in the manager's install directory (installDir).",
    hint: 'Install the package with the npm install --prefix command the message gives, or fix the package name in the configuration.',
  },
  VLAB_ERR_MODULE_IMPORT_FAILED: {
    meaning:
      'A module package is installed but could not be imported: its entry file is missing, it throws while loading, or one of its own dependencies is missing.',
    hint: 'Read the cause (the error the import threw); reinstall the package with the npm install --prefix command the message gives, and report the error to its authors if it persists.',
  },
  VLAB_ERR_MODULE_START_FAILED: {
    meaning:
      "A module's create threw an error that is not a vlab error while the manager composed the configured modules (a bug in the module, or something on the manager's host it did not expect); the modules already created were closed.",
    hint: "Read the cause (the module's own error) and the module's README for what it needs on the manager's host; report the error to the module's authors if the settings are right.",
  },
  VLAB_ERR_DATABASE_START_FAILED: {
    meaning:
      "The manager's PostgreSQL could not be set up, started or reached: the embedded one failed to start (its last log lines are in the message), another manager still runs on the same data directory, or the external database does not answer.",
    hint: 'Read the message: it names the data directory or the database (never its password) and what PostgreSQL said; fix that and start again.',
  },
  VLAB_ERR_DATABASE_MIGRATION_FAILED: {
    meaning:
      "A schema migration of the manager's database failed (rolled back), or the database holds a schema from a newer manager.",
    hint: 'Read the named migration and its cause; a database from a newer manager needs that manager version (never edit the schema by hand).',
  },
  VLAB_ERR_MANAGER_RUNNING: {
    meaning:
      'A manager already runs in this process: its durable workflows (DBOS) are one per process, so one process runs one manager.',
    hint: 'Close the running manager first (Manager.close), or start the second manager in its own process.',
  },
  VLAB_ERR_MODULE_FAILED: {
    meaning:
      "A module's operation threw an error that is not a vlab error (a bug in the module); the manager recorded it as the step's failure.",
    hint: "Read the event's message and the module's log lines; report the error to the module's authors.",
  },
  VLAB_ERR_CAPTURE_INTERRUPTED: {
    meaning:
      'The manager stopped while a capture ran. A capture is never started twice (its preCapture may have generalised the machine): the revision failed, what it wrote was removed, and the computer is loaded again.',
    hint: 'Start the capture again from a new reservation of the image; the events of the reservation show where it stopped.',
  },
  VLAB_ERR_REQUEST_INVALID: {
    meaning:
      'A request to the manager is malformed: a field is missing, has the wrong type, or is out of range (a length that is not a whole number of minutes from 1 to the policy maximum, an empty list of users).',
    hint: 'Read the field the message names and send the request again with a valid value; nothing was created.',
  },
  VLAB_ERR_IMAGE_UNKNOWN: {
    meaning:
      'A request names an image, or an image revision, the lab does not have, or one it cannot serve (a reservation needs a production revision; a reload a testing or production one its store holds).',
    hint: "List the lab's images (Manager.images.list) and their revisions; an image must be in the configuration and a revision in production (or testing, for a reload).",
  },
  VLAB_ERR_USER_UNKNOWN: {
    meaning: 'A request names a login that is not a registered user of the lab.',
    hint: 'Register the user first (Manager.users.add), or fix the login in the request.',
  },
  VLAB_ERR_COMPUTER_UNAVAILABLE: {
    meaning:
      'A request names a computer the lab does not have, or one that cannot take it now (in maintenance, failed, or at work).',
    hint: 'Take the computer out of maintenance first (Manager.computers.release), wait until its work ends, pick another computer, or leave the choice to the manager.',
  },
  VLAB_ERR_RESERVATION_NOT_FOUND: {
    meaning: 'No reservation has the given id.',
    hint: 'List the reservations (Manager.reservations.list) for their ids.',
  },
  VLAB_ERR_AUTH_REQUIRED: {
    meaning:
      'A request to the HTTP API carries no bearer token, or one the lab does not know (malformed, revoked, or its user removed).',
    hint: 'Send the header "Authorization: Bearer <token>" with a token of yours; an admin issues tokens (POST /api/v1/tokens), and the first admin token is in the file the manager named at its first start.',
  },
  VLAB_ERR_AUTH_FORBIDDEN: {
    meaning: "The request's user may not do this: it is for admins, or for the image's owner.",
    hint: 'Ask an admin of the lab to do it, or to do it with their token.',
  },
  VLAB_ERR_AUTH_RATE_LIMITED: {
    meaning:
      'Too many requests from this address failed to authenticate; the manager refuses its requests for a while.',
    hint: 'Wait the seconds the Retry-After header gives, and check the token you send.',
  },
  VLAB_ERR_ROUTE_NOT_FOUND: {
    meaning: 'The HTTP API has no such path, or the path takes no such method.',
    hint: 'Read the API description at /openapi.json for the paths and methods.',
  },
  VLAB_ERR_REQUEST_TOO_LARGE: {
    meaning: 'The request body is larger than the HTTP API accepts (1 MiB).',
    hint: 'Send a smaller body: no request of the API needs more.',
  },
  VLAB_ERR_TOKEN_NOT_FOUND: {
    meaning: 'No API token of yours has the given id.',
    hint: 'List your tokens (GET /api/v1/tokens) for their ids.',
  },
  VLAB_ERR_MANAGER_INTERNAL: {
    meaning:
      'The manager failed on a request in a way it does not foresee (a bug); the response carries no detail, the manager logged the error.',
    hint: "Read the manager's log line with the request id the response gives, and report it to vlab's authors.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of {@link MANAGER_ERROR_CODES}. @public */
export type ManagerErrorCode = keyof typeof MANAGER_ERROR_CODES;

/** Codes of `@vlab/manager` that were retired; never used again. @public */
export const RETIRED_MANAGER_ERROR_CODES: readonly string[] = [];

/**
 * A `VlabError` with one of the manager's codes; the hint defaults to the documented one.
 * @param summary - What failed, without the hint (the message adds it).
 * @public
 */
export function managerError(
  code: ManagerErrorCode,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return new VlabError(code, summary, {
    ...options,
    hint: options.hint ?? MANAGER_ERROR_CODES[code].hint,
  });
}
