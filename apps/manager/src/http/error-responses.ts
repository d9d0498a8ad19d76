import { isVlabError, type Logger } from '@vlab/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { MANAGER_ERROR_CODES, type ManagerErrorCode } from '../errors.js';

/** The body of every error response: what is wrong, its code, what to do. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly hint: string;
    /** The request's id in the manager's log. */
    readonly requestId: string;
  };
}

/** The HTTP status of each code a request can fail with; any other code is the manager's fault. */
const STATUS: Readonly<Record<string, number>> = {
  VLAB_ERR_REQUEST_INVALID: 400,
  VLAB_ERR_CONFIG_INVALID: 400,
  VLAB_ERR_AUTH_REQUIRED: 401,
  VLAB_ERR_AUTH_FORBIDDEN: 403,
  VLAB_ERR_ROUTE_NOT_FOUND: 404,
  VLAB_ERR_RESERVATION_NOT_FOUND: 404,
  VLAB_ERR_TOKEN_NOT_FOUND: 404,
  VLAB_ERR_IMAGE_UNKNOWN: 404,
  VLAB_ERR_USER_UNKNOWN: 404,
  VLAB_ERR_COMPUTER_UNAVAILABLE: 409,
  VLAB_ERR_CAPABILITY_MISSING: 409,
  VLAB_ERR_REQUEST_TOO_LARGE: 413,
  VLAB_ERR_AUTH_RATE_LIMITED: 429,
};

/** Longest message an error response carries; a longer one is cut. */
const MAX_MESSAGE = 600;

/** An error response of one of the manager's codes, with its documented hint. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: ManagerErrorCode,
  message: string,
): FastifyReply {
  return reply
    .code(status)
    .send(errorBody(reply.request, code, message, MANAGER_ERROR_CODES[code].hint));
}

function errorBody(
  request: FastifyRequest,
  code: string,
  message: string,
  hint: string,
): ErrorBody {
  const cut = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
  return { error: { code, message: cut, hint, requestId: request.id } };
}

/**
 * Fastify's error handler: a vlab error keeps its code and hint, a refused request becomes
 * `VLAB_ERR_REQUEST_INVALID` naming the field, and anything else is logged and answered with
 * `VLAB_ERR_MANAGER_INTERNAL`, without its message or stack (either may hold what no client
 * should read).
 */
export function errorHandler(log: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'request';
      const problems = error.validation.map((issue) => {
        const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return `${path === '' ? where : `${where}.${path}`}: ${issue.message}`;
      });
      return sendError(reply, 400, 'VLAB_ERR_REQUEST_INVALID', problems.join('; '));
    }
    if (isVlabError(error)) {
      const status = STATUS[error.code];
      if (status !== undefined) {
        return reply.code(status).send(errorBody(request, error.code, error.summary, error.hint));
      }
    } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, 413, 'VLAB_ERR_REQUEST_TOO_LARGE', 'the request body is over 1 MiB');
    } else if (
      typeof error.statusCode === 'number' &&
      error.statusCode >= 400 &&
      error.statusCode < 500
    ) {
      // Fastify's own refusals: malformed JSON, a media type it cannot parse, a bad header …
      return sendError(reply, error.statusCode, 'VLAB_ERR_REQUEST_INVALID', error.message);
    }
    log.error('a request of the HTTP API failed', {
      requestId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      code: isVlabError(error) ? error.code : undefined,
      error: isVlabError(error) ? error.summary : String(error),
    });
    return sendError(
      reply,
      500,
      'VLAB_ERR_MANAGER_INTERNAL',
      'the manager failed on this request; its log has the details',
    );
  };
}

/** Fastify's not-found handler: `VLAB_ERR_ROUTE_NOT_FOUND` naming the method and path. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? '';
  const shown = path.length > 100 ? `${path.slice(0, 99)}…` : path;
  return sendError(
    reply,
    404,
    'VLAB_ERR_ROUTE_NOT_FOUND',
    `no route ${request.method} ${JSON.stringify(shown)}`,
  );
}

/**
 * Fastify's `frameworkErrors`: a path that is not valid percent-encoding, or with a part longer
 * than the router reads.
 */
export function badPath(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  void sendError(
    reply,
    tooLong ? 414 : 400,
    'VLAB_ERR_REQUEST_INVALID',
    tooLong
      ? 'a part of the path is longer than any name the API takes'
      : 'the path is not valid percent-encoding',
  );
}
