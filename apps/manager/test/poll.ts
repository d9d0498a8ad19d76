/**
 * Asks `probe` every `pauseMs` until it returns a value. The bound only turns a hang into a
 * failure that says what was last seen (`last`); it is never what a test waits for.
 */
export async function poll<T>(
  probe: () => Promise<T | undefined>,
  last: () => Promise<string> | string,
  options: { readonly boundMs: number; readonly pauseMs: number },
): Promise<T> {
  const deadline = Date.now() + options.boundMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`after ${options.boundMs / 1000} s: ${await last()}`);
    await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
  }
}
