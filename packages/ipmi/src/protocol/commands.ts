import {
  BOOT_DEVICE_MASK,
  BOOT_FLAG_VALID_KEEP_ON_TIMEOUT,
  BOOT_FLAGS_EFI,
  BOOT_FLAGS_PERSISTENT,
  BOOT_FLAGS_VALID,
  BootDeviceSelector,
  BootParam,
  CHANNEL_AUTH_CAP_REQUEST_V2,
  CHANNEL_AUTH_V20_EXTENDED,
  CHANNEL_SUPPORTS_V20,
  ChassisControl,
  ChassisPowerStateBit,
  LastPowerEventBit,
  POWER_RESTORE_POLICIES,
} from './constants.js';

/**
 * Request data builders and response data parsers of the commands this package sends. A parser
 * returns undefined when the data is too short; the caller reports a protocol error.
 */

/** Get Channel Authentication Capabilities request data (§22.13, Table 22-14). */
export function channelAuthCapabilitiesRequest(privilege: number): Buffer {
  return Buffer.of(CHANNEL_AUTH_CAP_REQUEST_V2, privilege & 0x0f);
}

/** What Get Channel Authentication Capabilities tells (§22.13, Table 22-15). */
export interface ChannelAuthCapabilities {
  readonly channel: number;
  /** Bit 7 of byte 2: extended (IPMI v2.0) capabilities present. */
  readonly extended: boolean;
  /** Byte 4 bit 1: the channel accepts IPMI v2.0 / RMCP+ sessions. */
  readonly supportsV20: boolean;
  /** Byte 3 bits: anonymous login, null user names, per-message auth … (raw). */
  readonly authStatus: number;
}

/** Parses Get Channel Authentication Capabilities response data. */
export function parseChannelAuthCapabilities(
  data: Uint8Array,
): ChannelAuthCapabilities | undefined {
  if (data.length < 8) return undefined;
  const extended = ((data[1] ?? 0) & CHANNEL_AUTH_V20_EXTENDED) !== 0;
  return {
    channel: data[0] ?? 0,
    extended,
    supportsV20: extended && ((data[3] ?? 0) & CHANNEL_SUPPORTS_V20) !== 0,
    authStatus: data[2] ?? 0,
  };
}

/**
 * What Get Device ID reports about the BMC (IPMI v2.0 §20.1, Table 20-2).
 * @public
 */
export interface DeviceId {
  /** Device ID (byte 2). */
  readonly deviceId: number;
  /** Device revision (byte 3, bits 3:0). */
  readonly deviceRevision: number;
  /** Whether the device provides device SDRs (byte 3, bit 7). */
  readonly providesDeviceSdrs: boolean;
  /** Firmware revision as "major.minor", the minor in BCD as ipmitool prints it ("9.08"). */
  readonly firmwareRevision: string;
  /** False while the device is in firmware update or self-initialisation (byte 4, bit 7 set). */
  readonly deviceAvailable: boolean;
  /** IPMI version as "major.minor" ("2.0"). */
  readonly ipmiVersion: string;
  /** Additional device support bits (byte 7): sensor, SDR repository, SEL, FRU, … chassis. */
  readonly additionalDeviceSupport: number;
  /** IANA manufacturer ID (20 bits). */
  readonly manufacturerId: number;
  /** Product ID. */
  readonly productId: number;
  /** Auxiliary firmware revision bytes, if present. */
  readonly auxFirmwareRevision: readonly number[] | undefined;
}

function bcd(value: number): string {
  return `${(value >> 4) & 0x0f}${value & 0x0f}`;
}

/** Parses Get Device ID response data (§20.1, Table 20-2). */
export function parseDeviceId(data: Uint8Array): DeviceId | undefined {
  if (data.length < 11) return undefined;
  const at = (index: number): number => data[index] ?? 0;
  const ipmi = at(4);
  return {
    deviceId: at(0),
    deviceRevision: at(1) & 0x0f,
    providesDeviceSdrs: (at(1) & 0x80) !== 0,
    firmwareRevision: `${at(2) & 0x7f}.${bcd(at(3))}`,
    deviceAvailable: (at(2) & 0x80) === 0,
    // Byte 5: bits 3:0 the major version, bits 7:4 the minor (0x02 = 2.0, 0x51 = 1.5).
    ipmiVersion: `${ipmi & 0x0f}.${(ipmi >> 4) & 0x0f}`,
    additionalDeviceSupport: at(5),
    manufacturerId: (at(6) | (at(7) << 8) | (at(8) << 16)) & 0x0fffff,
    productId: at(9) | (at(10) << 8),
    auxFirmwareRevision: data.length >= 15 ? [at(11), at(12), at(13), at(14)] : undefined,
  };
}

/**
 * Power restore policy from Get Chassis Status (§28.2, Table 28-3).
 * @public
 */
export type PowerRestorePolicy = 'always-off' | 'previous' | 'always-on' | 'unknown';

/**
 * What Get Chassis Status reports (IPMI v2.0 §28.2, Table 28-3).
 * @public
 */
export interface ChassisStatus {
  /** System power is on. */
  readonly powerOn: boolean;
  /** Power overload. */
  readonly powerOverload: boolean;
  /** Power interlock active. */
  readonly interlock: boolean;
  /** Main power fault. */
  readonly powerFault: boolean;
  /** Power control fault. */
  readonly powerControlFault: boolean;
  /** What the BMC does when AC power returns. */
  readonly restorePolicy: PowerRestorePolicy;
  /** The last power event. */
  readonly lastPowerEvent: {
    /** AC failed. */
    readonly acFailed: boolean;
    /** Power down caused by an overload. */
    readonly overload: boolean;
    /** Power down caused by the interlock. */
    readonly interlock: boolean;
    /** Power down caused by a power fault. */
    readonly fault: boolean;
    /** The last "power on" came from an IPMI command. */
    readonly powerOnByIpmi: boolean;
  };
  /** The raw "last power event" byte (byte 3). */
  readonly lastPowerEventByte: number;
  /** Chassis intrusion active. */
  readonly intrusion: boolean;
  /** Front panel lockout active. */
  readonly frontPanelLockout: boolean;
  /** Drive fault. */
  readonly driveFault: boolean;
  /** Cooling or fan fault. */
  readonly coolingFault: boolean;
}

/** Parses Get Chassis Status response data (§28.2, Table 28-3). */
export function parseChassisStatus(data: Uint8Array): ChassisStatus | undefined {
  if (data.length < 3) return undefined;
  const power = data[0] ?? 0;
  const event = data[1] ?? 0;
  const misc = data[2] ?? 0;
  return {
    powerOn: (power & ChassisPowerStateBit.POWER_ON) !== 0,
    powerOverload: (power & ChassisPowerStateBit.OVERLOAD) !== 0,
    interlock: (power & ChassisPowerStateBit.INTERLOCK) !== 0,
    powerFault: (power & ChassisPowerStateBit.MAIN_POWER_FAULT) !== 0,
    powerControlFault: (power & ChassisPowerStateBit.POWER_CONTROL_FAULT) !== 0,
    restorePolicy: POWER_RESTORE_POLICIES[(power >> 5) & 0x03] ?? 'unknown',
    lastPowerEvent: {
      acFailed: (event & LastPowerEventBit.AC_FAILED) !== 0,
      overload: (event & LastPowerEventBit.OVERLOAD) !== 0,
      interlock: (event & LastPowerEventBit.INTERLOCK) !== 0,
      fault: (event & LastPowerEventBit.FAULT) !== 0,
      powerOnByIpmi: (event & LastPowerEventBit.POWER_ON_BY_IPMI) !== 0,
    },
    lastPowerEventByte: event,
    intrusion: (misc & 0x01) !== 0,
    frontPanelLockout: (misc & 0x02) !== 0,
    driveFault: (misc & 0x04) !== 0,
    coolingFault: (misc & 0x08) !== 0,
  };
}

/**
 * A Chassis Control action (§28.3, Table 28-4): `on` power up, `off` power down (hard),
 * `cycle` power cycle, `reset` hard reset, `soft` ACPI soft shutdown, `diag` diagnostic interrupt.
 * @public
 */
export type PowerAction = 'on' | 'off' | 'cycle' | 'reset' | 'soft' | 'diag';

/** Chassis Control byte 1 of each action (§28.3, Table 28-4). */
export const POWER_ACTION_CODE: Readonly<Record<PowerAction, number>> = {
  off: ChassisControl.POWER_DOWN,
  on: ChassisControl.POWER_UP,
  cycle: ChassisControl.POWER_CYCLE,
  reset: ChassisControl.HARD_RESET,
  diag: ChassisControl.DIAGNOSTIC_INTERRUPT,
  soft: ChassisControl.SOFT_SHUTDOWN,
};

/**
 * Whether an action may be sent again when its reply is lost: power on and off set a state, so
 * sending them twice is harmless; cycle, reset, soft shutdown and diagnostic interrupt act each
 * time they arrive, so they are never re-sent blindly.
 */
export const POWER_ACTION_IDEMPOTENT: Readonly<Record<PowerAction, boolean>> = {
  on: true,
  off: true,
  cycle: false,
  reset: false,
  soft: false,
  diag: false,
};

/**
 * A boot device of boot option parameter 5 (§28.13, Table 28-14): `none` (no override), `pxe`,
 * `disk` (default hard drive), `safe` (hard drive, safe mode), `diag` (diagnostic partition),
 * `cdrom`, `bios` (BIOS setup), `floppy` (removable media).
 * @public
 */
export type BootDevice = 'none' | 'pxe' | 'disk' | 'safe' | 'diag' | 'cdrom' | 'bios' | 'floppy';

/**
 * Boot flags: boot option parameter 5 (IPMI v2.0 §28.13, Table 28-14).
 * @public
 */
export interface BootFlags {
  /** Byte 1 bit 7: the flags are valid. Unset: the BMC applies no override. */
  readonly valid: boolean;
  /** Byte 1 bit 6: for all future boots; unset = the next boot only. */
  readonly persistent: boolean;
  /** Byte 1 bit 5: EFI boot; unset = PC compatible (legacy BIOS). */
  readonly efi: boolean;
  /** Byte 2 bits 5:2, the boot device selector; `unknown` for a value this package has no name for. */
  readonly device: BootDevice | 'unknown';
  /** The five raw bytes. */
  readonly raw: readonly number[];
}

/** Set System Boot Options data for parameter 3 = 0x08: keep the flags past 60 s (§28.12, §28.13). */
export function keepBootFlagsRequest(): Buffer {
  return Buffer.of(BootParam.BOOT_FLAG_VALID_BIT_CLEARING, BOOT_FLAG_VALID_KEEP_ON_TIMEOUT);
}

/** Set System Boot Options data for parameter 5 (§28.12, Table 28-13; §28.13, Table 28-14). */
export function setBootFlagsRequest(
  device: BootDevice,
  options: { readonly persistent?: boolean; readonly efi?: boolean },
): Buffer {
  const byte1 =
    BOOT_FLAGS_VALID |
    (options.persistent === true ? BOOT_FLAGS_PERSISTENT : 0) |
    (options.efi === true ? BOOT_FLAGS_EFI : 0);
  return Buffer.of(BootParam.BOOT_FLAGS, byte1, BootDeviceSelector[device], 0x00, 0x00, 0x00);
}

/** Get System Boot Options data: parameter 5, set 0, block 0 (§28.13, Table 28-13). */
export function getBootFlagsRequest(): Buffer {
  return Buffer.of(BootParam.BOOT_FLAGS, 0x00, 0x00);
}

/** Parses Get System Boot Options response data for parameter 5. */
export function parseBootFlags(data: Uint8Array): BootFlags | undefined {
  // Byte 1 parameter version, byte 2 parameter valid/selector, then the 5 parameter bytes.
  if (data.length < 7 || ((data[1] ?? 0) & 0x7f) !== BootParam.BOOT_FLAGS) return undefined;
  const flags = [...data.subarray(2, 7)];
  const byte1 = flags[0] ?? 0;
  const selector = (flags[1] ?? 0) & BOOT_DEVICE_MASK;
  const device = (Object.entries(BootDeviceSelector).find(([, value]) => value === selector)?.[0] ??
    'unknown') as BootDevice | 'unknown';
  return {
    valid: (byte1 & BOOT_FLAGS_VALID) !== 0,
    persistent: (byte1 & BOOT_FLAGS_PERSISTENT) !== 0,
    efi: (byte1 & BOOT_FLAGS_EFI) !== 0,
    device,
    raw: flags,
  };
}
