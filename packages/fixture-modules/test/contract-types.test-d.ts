import {
  defineOsModule,
  type EndState,
  noConfig,
  type OsContext,
  type OsModule,
  type OsModuleDefinition,
  type PreCaptureArgs,
  type ProvisionerContext,
} from '@vlab/core';
import { describe, expectTypeOf, test } from 'vitest';

// Type tests (run by `vitest --typecheck`, never executed): what the contract's types let a module
// author write, and what they refuse.

/** An OS module that forgot `preCapture`. */
declare const withoutPreCapture: Omit<OsModule, 'preCapture'>;
/** A complete OS module. */
declare const complete: OsModule;

describe('defineOsModule', () => {
  test('refuses a module without preCapture', () => {
    defineOsModule({
      name: 'os-incomplete',
      version: '0.0.0',
      contract: '^1.0.0',
      configSchema: noConfig,
      // @ts-expect-error -- preCapture is missing from the instance
      create: () => withoutPreCapture,
    });
    expectTypeOf(withoutPreCapture).not.toExtend<OsModule>();
  });

  test('accepts a complete module and keeps the config type', () => {
    const definition = defineOsModule({
      name: 'os-complete',
      version: '0.0.0',
      contract: '^1.0.0',
      configSchema: noConfig,
      create: () => complete,
    });
    expectTypeOf(definition).toEqualTypeOf<OsModuleDefinition<Record<string, never>>>();
    expectTypeOf(definition.kind).toEqualTypeOf<'os'>();
  });
});

describe('preCapture', () => {
  test("endState is 'on' | 'off' | 'reboot', or undefined for the default", () => {
    expectTypeOf<PreCaptureArgs['endState']>().toEqualTypeOf<'on' | 'off' | 'reboot' | undefined>();
    expectTypeOf<EndState>().toEqualTypeOf<'on' | 'off' | 'reboot'>();
  });

  test('refuses an end state outside the contract', () => {
    const stamp = { image: 'base', revision: 2 };
    // @ts-expect-error -- 'suspend' is no EndState
    const args: PreCaptureArgs = { endState: 'suspend', stamp };
    expectTypeOf(args.stamp).toEqualTypeOf<PreCaptureArgs['stamp']>();
  });
});

describe('contexts', () => {
  test('a ProvisionerContext is an OsContext (what a provisioner passes to preCapture)', () => {
    expectTypeOf<ProvisionerContext>().toExtend<OsContext>();
    expectTypeOf<ReturnType<ProvisionerContext['child']>>().toEqualTypeOf<ProvisionerContext>();
    expectTypeOf<OsModule['preCapture']>().parameter(0).toEqualTypeOf<OsContext>();
  });

  test('an OsContext is not a ProvisionerContext (an OS module cannot reach ctx.os)', () => {
    expectTypeOf<OsContext>().not.toExtend<ProvisionerContext>();
  });
});
