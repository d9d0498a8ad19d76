/** The longest image name: it is a directory name in every store. */
export const MAX_IMAGE_NAME = 128;

/** An image name: lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** What each part of the rule says when a name breaks it. */
export const IMAGE_NAME_PROBLEMS = {
  long: `must be at most ${MAX_IMAGE_NAME} characters`,
  pattern:
    'must be an image name: lower-case letters, digits, ., _ and -, starting with a letter or digit',
  dots: 'must not contain ".."',
} as const;

/**
 * What is wrong with `name` as an image name (one rule for the configuration file and for a
 * capture into a new image), or `undefined` when it is one.
 */
export function imageNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !IMAGE_NAME.test(name)) return IMAGE_NAME_PROBLEMS.pattern;
  if (name.length > MAX_IMAGE_NAME) return IMAGE_NAME_PROBLEMS.long;
  if (name.includes('..')) return IMAGE_NAME_PROBLEMS.dots;
  return undefined;
}
