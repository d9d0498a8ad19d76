/**
 * Wire constants of IPMI v2.0 (Intelligent Platform Management Interface Specification, Second
 * Generation, v2.0 rev. 1.1) and of the ASF 2.0 presence ping (DMTF DSP0136) that RMCP carries.
 * Each group cites the section or table it comes from; "§" means a section of IPMI v2.0.
 */

// ---------------------------------------------------------------------------------------------
// RMCP (§13.1.3, Table 13-1 "RMCP Message Header"; ASF 2.0 §3.2.2)
// ---------------------------------------------------------------------------------------------

/** The UDP port BMCs listen on for RMCP / RMCP+ ("primary RMCP port", §13.1.3). */
export const RMCP_PORT = 623;
/** RMCP version byte: 0x06 = RMCP version 1.0 (Table 13-1). */
export const RMCP_VERSION_1_0 = 0x06;
/** RMCP sequence number meaning "no RMCP ACK wanted" (Table 13-1; IPMI messages always use it). */
export const RMCP_SEQ_NO_ACK = 0xff;
/** RMCP message class: ASF (Table 13-1, class bits 4:0 = 6). */
export const RMCP_CLASS_ASF = 0x06;
/** RMCP message class: IPMI (Table 13-1, class bits 4:0 = 7). */
export const RMCP_CLASS_IPMI = 0x07;
/** Bit 7 of the RMCP class byte marks an RMCP ACK (Table 13-1). */
export const RMCP_CLASS_ACK_BIT = 0x80;
/** Length of the RMCP header: version, reserved, sequence, class (Table 13-1). */
export const RMCP_HEADER_LENGTH = 4;

/** The ASF IANA enterprise number, 4542 (0x000011BE), big-endian on the wire (§13.2.3; DSP0136 §3.2.4.1). */
export const ASF_IANA = 4542;
/** ASF message type: Presence Ping (DSP0136 §3.2.4.1; IPMI v2.0 §13.2.3). */
export const ASF_TYPE_PRESENCE_PING = 0x80;
/** ASF message type: Presence Pong (DSP0136 §3.2.4.2). */
export const ASF_TYPE_PRESENCE_PONG = 0x40;
/** Presence Pong "supported entities" bit 7: IPMI is supported (DSP0136 §3.2.4.2, Table 13-3). */
export const ASF_ENTITY_IPMI_SUPPORTED = 0x80;
/** Presence Pong "supported interactions" bit 5: RMCP security extensions (DSP0136 §3.2.4.2). */
export const ASF_INTERACTION_RMCP_SECURITY = 0x20;

// ---------------------------------------------------------------------------------------------
// Session header (§13.6, Table 13-8 "IPMI LAN Session Header and Trailer Formats")
// ---------------------------------------------------------------------------------------------

/** Authentication type field: none, IPMI v1.5 sessions (§13.6, Table 13-8; §22.13). */
export const AUTH_TYPE_NONE = 0x00;
/** Authentication type field: RMCP+ (IPMI v2.0 / "format = RMCP+", §13.6, Table 13-8). */
export const AUTH_TYPE_RMCP_PLUS = 0x06;

/** Payload type byte, bit 7: the payload is encrypted (§13.6, Table 13-8). */
export const PAYLOAD_ENCRYPTED_BIT = 0x80;
/** Payload type byte, bit 6: the packet carries an integrity trailer (§13.6, Table 13-8). */
export const PAYLOAD_AUTHENTICATED_BIT = 0x40;
/** Payload type byte, bits 5:0 (§13.6, Table 13-8). */
export const PAYLOAD_TYPE_MASK = 0x3f;

/** Payload types (§13.27.3, Table 13-16 "Payload Type Numbers"). */
export const PayloadType = {
  /** An IPMI request or response message. */
  IPMI: 0x00,
  /** Serial Over LAN. */
  SOL: 0x01,
  /** OEM explicit: followed by an OEM IANA and payload ID in the session header. */
  OEM_EXPLICIT: 0x02,
  /** RMCP+ Open Session Request (§13.17). */
  OPEN_SESSION_REQUEST: 0x10,
  /** RMCP+ Open Session Response (§13.18). */
  OPEN_SESSION_RESPONSE: 0x11,
  /** RAKP Message 1 (§13.20). */
  RAKP1: 0x12,
  /** RAKP Message 2 (§13.21). */
  RAKP2: 0x13,
  /** RAKP Message 3 (§13.22). */
  RAKP3: 0x14,
  /** RAKP Message 4 (§13.23). */
  RAKP4: 0x15,
} as const;

/** Length of the RMCP+ session header from Auth Type through Payload Length (Table 13-8). */
export const V20_SESSION_HEADER_LENGTH = 12;
/** Length of the IPMI v1.5 session header without an AuthCode: auth type, seq, session ID, length (Table 13-8). */
export const V15_SESSION_HEADER_LENGTH = 10;
/** Integrity pad byte (§13.28.1, Table 13-8 "Integrity PAD"). */
export const INTEGRITY_PAD_BYTE = 0xff;
/** Next Header byte of the session trailer; always 0x07 (Table 13-8). */
export const TRAILER_NEXT_HEADER = 0x07;

// ---------------------------------------------------------------------------------------------
// IPMI messages over LAN (§13.8, Table 13-4 "IPMI LAN Request/Response Message Format")
// ---------------------------------------------------------------------------------------------

/** The BMC's responder slave address (§5.5 "BMC SA"; §13.8). */
export const BMC_SLAVE_ADDRESS = 0x20;
/** Requester address of a remote console: software ID 0x40 with bit 0 set (§5.5, Table 5-4; §13.8). */
export const REMOTE_CONSOLE_SWID = 0x81;
/** The IPMI request sequence number (rqSeq) is six bits (§5.4 "rqSeq"). */
export const RQ_SEQ_MODULO = 64;

/** Network function codes, requests (even numbers; the response is netFn + 1) (§5.1, Table 5-1). */
export const NetFn = {
  /** Chassis (§28). */
  CHASSIS: 0x00,
  /** Bridge. */
  BRIDGE: 0x02,
  /** Sensor / event. */
  SENSOR_EVENT: 0x04,
  /** Application (§20, §22). */
  APP: 0x06,
  /** Firmware. */
  FIRMWARE: 0x08,
  /** Storage. */
  STORAGE: 0x0a,
  /** Transport (§23). */
  TRANSPORT: 0x0c,
  /** Group extension (first byte of data is the defining body code). */
  GROUP_EXTENSION: 0x2c,
  /** OEM/group (first three bytes of data are the OEM IANA). */
  OEM_GROUP: 0x2e,
} as const;

/** Application commands (NetFn 0x06) (§G, Table G-1 "Command Number Assignments"). */
export const AppCmd = {
  /** Get Device ID (§20.1). */
  GET_DEVICE_ID: 0x01,
  /** Get Device GUID (§20.8). */
  GET_DEVICE_GUID: 0x08,
  /** Get Channel Authentication Capabilities (§22.13). */
  GET_CHANNEL_AUTH_CAPABILITIES: 0x38,
  /** Set Session Privilege Level (§22.18). */
  SET_SESSION_PRIVILEGE_LEVEL: 0x3b,
  /** Close Session (§22.19). */
  CLOSE_SESSION: 0x3c,
  /** Get Session Info (§22.20). */
  GET_SESSION_INFO: 0x3d,
  /** Get Channel Cipher Suites (§22.15). */
  GET_CHANNEL_CIPHER_SUITES: 0x54,
} as const;

/** Chassis commands (NetFn 0x00) (§G, Table G-1). */
export const ChassisCmd = {
  /** Get Chassis Capabilities (§28.1). */
  GET_CHASSIS_CAPABILITIES: 0x00,
  /** Get Chassis Status (§28.2). */
  GET_CHASSIS_STATUS: 0x01,
  /** Chassis Control (§28.3). */
  CHASSIS_CONTROL: 0x02,
  /** Chassis Identify (§28.5). */
  CHASSIS_IDENTIFY: 0x04,
  /** Get System Restart Cause (§28.11). */
  GET_SYSTEM_RESTART_CAUSE: 0x07,
  /** Set System Boot Options (§28.12). */
  SET_SYSTEM_BOOT_OPTIONS: 0x08,
  /** Get System Boot Options (§28.13). */
  GET_SYSTEM_BOOT_OPTIONS: 0x09,
} as const;

/** Chassis Control request byte 1, bits 3:0 (§28.3, Table 28-4). */
export const ChassisControl = {
  /** Power down: force the system into soft off (S4/S5) without an orderly shutdown. */
  POWER_DOWN: 0x00,
  /** Power up. */
  POWER_UP: 0x01,
  /** Power cycle: power down, wait at least 1 s, power up. */
  POWER_CYCLE: 0x02,
  /** Hard reset (pulse the reset line), no power change. */
  HARD_RESET: 0x03,
  /** Pulse a diagnostic interrupt (NMI). */
  DIAGNOSTIC_INTERRUPT: 0x04,
  /** Initiate a soft shutdown through ACPI (emulates the power button's overtemperature / fatal path). */
  SOFT_SHUTDOWN: 0x05,
} as const;

/** Get Chassis Status response byte 2 "Current Power State" bits (§28.2, Table 28-3). */
export const ChassisPowerStateBit = {
  /** System power is on. */
  POWER_ON: 0x01,
  /** Power overload. */
  OVERLOAD: 0x02,
  /** Power interlock active. */
  INTERLOCK: 0x04,
  /** Main power fault. */
  MAIN_POWER_FAULT: 0x08,
  /** Power control fault. */
  POWER_CONTROL_FAULT: 0x10,
} as const;

/** Get Chassis Status byte 2 bits 6:5: power restore policy (§28.2, Table 28-3). */
export const POWER_RESTORE_POLICIES = ['always-off', 'previous', 'always-on', 'unknown'] as const;

/** Get Chassis Status response byte 3 "Last Power Event" bits (§28.2, Table 28-3). */
export const LastPowerEventBit = {
  /** AC failed. */
  AC_FAILED: 0x01,
  /** Power down caused by a power overload. */
  OVERLOAD: 0x02,
  /** Power down caused by the power interlock being activated. */
  INTERLOCK: 0x04,
  /** Power down caused by a power fault. */
  FAULT: 0x08,
  /** The last "power is on" state was entered through an IPMI command. */
  POWER_ON_BY_IPMI: 0x10,
} as const;

/** Boot option parameter selectors (§28.13, Table 28-14 "Boot Option Parameters"). */
export const BootParam = {
  /** Set In Progress. */
  SET_IN_PROGRESS: 0x00,
  /** BMC boot flag valid bit clearing (bit 3: do not clear on the 60 s Chassis Control timeout). */
  BOOT_FLAG_VALID_BIT_CLEARING: 0x03,
  /** Boot info acknowledge. */
  BOOT_INFO_ACKNOWLEDGE: 0x04,
  /** Boot flags (5 bytes). */
  BOOT_FLAGS: 0x05,
} as const;

/** Set System Boot Options byte 1 bit 7: "mark parameter invalid / locked" (§28.12, Table 28-13). */
export const BOOT_PARAM_INVALID_BIT = 0x80;
/** Parameter 3 bit 3: do not clear the boot flags valid bit when 60 s pass without a Chassis Control (§28.13, Table 28-14). */
export const BOOT_FLAG_VALID_KEEP_ON_TIMEOUT = 0x08;
/** Parameter 5 byte 1 bit 7: boot flags valid (§28.13, Table 28-14). */
export const BOOT_FLAGS_VALID = 0x80;
/** Parameter 5 byte 1 bit 6: persistent, all future boots (0 = next boot only) (§28.13, Table 28-14). */
export const BOOT_FLAGS_PERSISTENT = 0x40;
/** Parameter 5 byte 1 bit 5: BIOS boot type EFI (0 = PC compatible, "legacy") (§28.13, Table 28-14). */
export const BOOT_FLAGS_EFI = 0x20;
/** Parameter 5 byte 2 bits 5:2: boot device selector (§28.13, Table 28-14). */
export const BOOT_DEVICE_MASK = 0x3c;

/** Boot device selector values of parameter 5 byte 2, already shifted into bits 5:2 (§28.13, Table 28-14). */
export const BootDeviceSelector = {
  /** No override. */
  none: 0x00,
  /** Force PXE. */
  pxe: 0x04,
  /** Force boot from the default hard drive. */
  disk: 0x08,
  /** Force boot from the default hard drive, request safe mode. */
  safe: 0x0c,
  /** Force boot from the diagnostic partition. */
  diag: 0x10,
  /** Force boot from CD/DVD. */
  cdrom: 0x14,
  /** Force boot into BIOS setup. */
  bios: 0x18,
  /** Force boot from remotely connected floppy / primary removable media. */
  floppy: 0x3c,
} as const;

// ---------------------------------------------------------------------------------------------
// Privilege levels (§6.8; Table 22-15 and §22.18)
// ---------------------------------------------------------------------------------------------

/** Privilege levels (§6.8 "Channel Privilege Levels"; §22.18). */
export const Privilege = {
  /** Callback. */
  callback: 0x01,
  /** User: read-only commands. */
  user: 0x02,
  /** Operator: all BMC commands except configuration ones (power control included). */
  operator: 0x03,
  /** Administrator: everything. */
  administrator: 0x04,
} as const;

/** RAKP 1 "requested maximum privilege level (role)" bit 4: name-only lookup (§13.20, Table 13-11). */
export const ROLE_NAME_ONLY_LOOKUP = 0x10;
/** Longest user name RAKP 1 can carry (§13.20, Table 13-11: 0 to 16 bytes). */
export const MAX_USER_NAME_LENGTH = 16;
/** Longest IPMI v2.0 password: Kuid is 20 bytes (§13.31, §22.29 "Set User Password"). */
export const MAX_PASSWORD_LENGTH = 20;
/** Length of the BMC key Kg (§13.31; set with Set Channel Security Keys, §22.25). */
export const KG_LENGTH = 20;

// ---------------------------------------------------------------------------------------------
// Get Channel Authentication Capabilities (§22.13, Tables 22-14 and 22-15)
// ---------------------------------------------------------------------------------------------

/** Request byte 1: bit 7 asks for IPMI v2.0+ extended data, bits 3:0 = 0xE, "this channel" (Table 22-14). */
export const CHANNEL_AUTH_CAP_REQUEST_V2 = 0x8e;
/** Response byte 2 bit 7: IPMI v2.0+ extended capabilities available (Table 22-15). */
export const CHANNEL_AUTH_V20_EXTENDED = 0x80;
/** Response byte 4 bit 1: the channel supports IPMI v2.0 (RMCP+) connections (Table 22-15). */
export const CHANNEL_SUPPORTS_V20 = 0x02;

// ---------------------------------------------------------------------------------------------
// RMCP+ algorithms and cipher suites (§13.28, Tables 13-17 to 13-19; §22.15.2, Table 22-20)
// ---------------------------------------------------------------------------------------------

/** Authentication algorithm numbers (§13.28, Table 13-17). */
export const AuthAlgorithm = {
  /** RAKP-none. */
  RAKP_NONE: 0x00,
  /** RAKP-HMAC-SHA1. */
  RAKP_HMAC_SHA1: 0x01,
  /** RAKP-HMAC-MD5. */
  RAKP_HMAC_MD5: 0x02,
  /** RAKP-HMAC-SHA256. */
  RAKP_HMAC_SHA256: 0x03,
} as const;

/** Integrity algorithm numbers (§13.28.4, Table 13-18). */
export const IntegrityAlgorithm = {
  /** None. */
  NONE: 0x00,
  /** HMAC-SHA1-96. */
  HMAC_SHA1_96: 0x01,
  /** HMAC-MD5-128. */
  HMAC_MD5_128: 0x02,
  /** MD5-128. */
  MD5_128: 0x03,
  /** HMAC-SHA256-128. */
  HMAC_SHA256_128: 0x04,
} as const;

/** Confidentiality algorithm numbers (§13.28.5, Table 13-19). */
export const ConfidentialityAlgorithm = {
  /** None. */
  NONE: 0x00,
  /** AES-CBC-128 (§13.29). */
  AES_CBC_128: 0x01,
} as const;

/** Open Session payload types of the three algorithm proposals (§13.17, Table 13-9). */
export const ProposalType = {
  /** Authentication payload. */
  AUTHENTICATION: 0x00,
  /** Integrity payload. */
  INTEGRITY: 0x01,
  /** Confidentiality payload. */
  CONFIDENTIALITY: 0x02,
} as const;

/** The constant Kuid/SIK derivation input for K1: 20 bytes of 0x01 (§13.32, "const1"). */
export const K1_CONSTANT_BYTE = 0x01;
/** The constant for K2: 20 bytes of 0x02 (§13.32, "const2"). */
export const K2_CONSTANT_BYTE = 0x02;
/** Length of const1/const2; ipmitool and pyghmi keep 20 bytes for SHA-256 too (§13.32). */
export const K_CONSTANT_LENGTH = 20;
/** Length of Rm and Rc, the RAKP random numbers (§13.20, §13.21). */
export const RAKP_RANDOM_LENGTH = 16;
/** Length of the managed system GUID in RAKP 2 (§13.21, Table 13-12). */
export const GUID_LENGTH = 16;
/** AES-CBC-128 block and IV length (§13.29). */
export const AES_BLOCK_LENGTH = 16;

/** RMCP+ and RAKP message status codes (§13.24, Table 13-15). */
export const RmcpPlusStatus = {
  /** No errors. */
  NO_ERRORS: 0x00,
  /** Insufficient resources to create a session. */
  INSUFFICIENT_RESOURCES: 0x01,
  /** Invalid session ID. */
  INVALID_SESSION_ID: 0x02,
  /** Invalid payload type. */
  INVALID_PAYLOAD_TYPE: 0x03,
  /** Invalid authentication algorithm. */
  INVALID_AUTH_ALGORITHM: 0x04,
  /** Invalid integrity algorithm. */
  INVALID_INTEGRITY_ALGORITHM: 0x05,
  /** No matching authentication payload. */
  NO_MATCHING_AUTH_PAYLOAD: 0x06,
  /** No matching integrity payload. */
  NO_MATCHING_INTEGRITY_PAYLOAD: 0x07,
  /** Inactive session ID. */
  INACTIVE_SESSION_ID: 0x08,
  /** Invalid role. */
  INVALID_ROLE: 0x09,
  /** Unauthorized role or privilege level requested. */
  UNAUTHORIZED_ROLE: 0x0a,
  /** Insufficient resources to create a session at the requested role. */
  INSUFFICIENT_RESOURCES_FOR_ROLE: 0x0b,
  /** Invalid name length. */
  INVALID_NAME_LENGTH: 0x0c,
  /** Unauthorized name. */
  UNAUTHORIZED_NAME: 0x0d,
  /** Unauthorized GUID. */
  UNAUTHORIZED_GUID: 0x0e,
  /** Invalid integrity check value. */
  INVALID_INTEGRITY_CHECK: 0x0f,
  /** Invalid confidentiality algorithm. */
  INVALID_CONFIDENTIALITY_ALGORITHM: 0x10,
  /** No cipher suite match with proposed security algorithms. */
  NO_CIPHER_SUITE_MATCH: 0x11,
  /** Illegal or unrecognized parameter. */
  ILLEGAL_PARAMETER: 0x12,
} as const;

/** Human-readable names of {@link RmcpPlusStatus} (§13.24, Table 13-15). */
export const RMCP_PLUS_STATUS_TEXT: Readonly<Record<number, string>> = {
  0: 'no errors',
  1: 'insufficient resources to create a session',
  2: 'invalid session ID',
  3: 'invalid payload type',
  4: 'invalid authentication algorithm',
  5: 'invalid integrity algorithm',
  6: 'no matching authentication payload',
  7: 'no matching integrity payload',
  8: 'inactive session ID',
  9: 'invalid role',
  10: 'unauthorized role or privilege level requested',
  11: 'insufficient resources to create a session at the requested role',
  12: 'invalid name length',
  13: 'unauthorized name',
  14: 'unauthorized GUID',
  15: 'invalid integrity check value',
  16: 'invalid confidentiality algorithm',
  17: 'no cipher suite match with proposed security algorithms',
  18: 'illegal or unrecognized parameter',
};

// ---------------------------------------------------------------------------------------------
// Session sequence numbers (§6.12.13 "Session Sequence Number Tracking", §13.6)
// ---------------------------------------------------------------------------------------------

/**
 * How far behind the highest sequence number seen a packet may be and still be accepted once.
 * §6.12.13 asks receivers to accept a sliding window of recent sequence numbers and to reject
 * duplicates; implementations differ on its width, so we accept 16 below (and see the next).
 */
export const SEQUENCE_WINDOW_BELOW = 16;
/** How far ahead of the highest sequence number seen a packet may be (§6.12.13; 32, generous for loss bursts). */
export const SEQUENCE_WINDOW_ABOVE = 32;

// ---------------------------------------------------------------------------------------------
// Completion codes (§5.2, Table 5-2 "Completion Codes")
// ---------------------------------------------------------------------------------------------

/** Generic completion codes (§5.2, Table 5-2). */
export const CompletionCode = {
  /** Command completed normally. */
  OK: 0x00,
  /** Node busy: processing resources temporarily unavailable; the command was not run. */
  NODE_BUSY: 0xc0,
  /** Invalid command. */
  INVALID_COMMAND: 0xc1,
  /** Command invalid for the given LUN. */
  INVALID_FOR_LUN: 0xc2,
  /** Timeout while processing the command. */
  TIMEOUT: 0xc3,
  /** Out of space. */
  OUT_OF_SPACE: 0xc4,
  /** Reservation cancelled or invalid reservation ID. */
  RESERVATION_CANCELLED: 0xc5,
  /** Request data truncated. */
  DATA_TRUNCATED: 0xc6,
  /** Request data length invalid. */
  DATA_LENGTH_INVALID: 0xc7,
  /** Request data field length limit exceeded. */
  DATA_LENGTH_LIMIT_EXCEEDED: 0xc8,
  /** Parameter out of range. */
  PARAMETER_OUT_OF_RANGE: 0xc9,
  /** Cannot return the number of requested data bytes. */
  CANNOT_RETURN_REQUESTED_BYTES: 0xca,
  /** Requested sensor, data or record not present. */
  NOT_PRESENT: 0xcb,
  /** Invalid data field in request. */
  INVALID_DATA_FIELD: 0xcc,
  /** Command illegal for the specified sensor or record type. */
  ILLEGAL_FOR_TYPE: 0xcd,
  /** Command response could not be provided. */
  RESPONSE_NOT_PROVIDED: 0xce,
  /** Cannot execute a duplicated request. */
  DUPLICATED_REQUEST: 0xcf,
  /** SDR repository in update mode. */
  SDR_UPDATE_MODE: 0xd0,
  /** Device in firmware update mode. */
  FIRMWARE_UPDATE_MODE: 0xd1,
  /** BMC initialization or initialization agent in progress. */
  BMC_INITIALIZING: 0xd2,
  /** Destination unavailable. */
  DESTINATION_UNAVAILABLE: 0xd3,
  /** Cannot execute the command: insufficient privilege level. */
  INSUFFICIENT_PRIVILEGE: 0xd4,
  /** Cannot execute the command: not supported in the present state. */
  NOT_SUPPORTED_IN_STATE: 0xd5,
  /** Cannot execute the command: the sub-function is disabled or unavailable. */
  SUBFUNCTION_DISABLED: 0xd6,
  /** Unspecified error. */
  UNSPECIFIED: 0xff,
} as const;

/** Names of the generic completion codes (§5.2, Table 5-2). 0x01–0x7E are OEM, 0x80–0xBE command-specific. */
export const COMPLETION_CODE_TEXT: Readonly<Record<number, string>> = {
  0: 'command completed normally',
  192: 'node busy',
  193: 'invalid command',
  194: 'command invalid for given LUN',
  195: 'timeout while processing command',
  196: 'out of space',
  197: 'reservation cancelled or invalid reservation ID',
  198: 'request data truncated',
  199: 'request data length invalid',
  200: 'request data field length limit exceeded',
  201: 'parameter out of range',
  202: 'cannot return number of requested data bytes',
  203: 'requested sensor, data, or record not present',
  204: 'invalid data field in request',
  205: 'command illegal for specified sensor or record type',
  206: 'command response could not be provided',
  207: 'cannot execute duplicated request',
  208: 'SDR repository in update mode',
  209: 'device in firmware update mode',
  210: 'BMC initialization in progress',
  211: 'destination unavailable',
  212: 'insufficient privilege level',
  213: 'not supported in present state',
  214: 'sub-function disabled or unavailable',
  255: 'unspecified error',
};

/**
 * Completion codes that say the command was not run and may be sent again later: node busy,
 * BMC initialization in progress (§5.2, Table 5-2), and for reads and state-setting commands
 * also timeout, out of space and "response could not be provided" (Ironic's retry list).
 */
export const COMPLETION_CODES_NOT_RUN: readonly number[] = [0xc0, 0xd2];
/** Completion codes retried for commands that are safe to repeat (see {@link COMPLETION_CODES_NOT_RUN}). */
export const COMPLETION_CODES_RETRY_IF_SAFE: readonly number[] = [0xc0, 0xc3, 0xc4, 0xce, 0xd2];
