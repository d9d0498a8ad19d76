import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';

/** The vlab error `promise` rejects with; fails if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<VlabError> {
  try {
    await promise;
  } catch (error) {
    if (isVlabError(error)) return error;
    throw error;
  }
  throw new Error('expected the promise to reject');
}
