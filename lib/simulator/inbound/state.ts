import type { XmlElement } from './xml.ts'

/** What the fake FreeSWITCH has loaded and what its api commands see. */

export interface AclList {
  readonly default: 'allow' | 'deny'
  readonly nodes: ReadonlyArray<{ readonly type: 'allow' | 'deny', readonly cidr: string }>
}

/** mod_sofia's sofia_gateway_t, the fields `sofia status gateway` prints. */
export interface GatewayState {
  readonly profile?: string
  readonly username?: string
  readonly realm?: string
  readonly proxy?: string
  readonly register?: boolean
  /** sofia_state_names[]: UNREGED TRYING REGISTER REGED UNREGISTER FAILED FAIL_WAIT EXPIRED NOREG DOWN TIMEOUT. */
  readonly state: string
  /** status_names[]: DOWN or UP. */
  readonly status: 'UP' | 'DOWN'
  readonly context?: string
  readonly extension?: string
}

export interface InboundState {
  /** mod_event_socket's password (event_socket.conf `password`, default ClueCon). */
  readonly password: string
  /** Loaded modules by name (module_exists). */
  readonly modules: ReadonlySet<string>
  /** Global variables (global_getvar), e.g. the ones the pre-processor set. */
  readonly globals: ReadonlyMap<string, string>
  readonly acl: Readonly<Record<string, AclList>>
  readonly gateways: Readonly<Record<string, GatewayState>>
  /** The whole loaded document (<document> with its sections), for xml_locate. */
  readonly document: XmlElement
  /** user@domain pairs of the directory (user_exists id USER DOMAIN). */
  readonly users: ReadonlySet<string>
  /** file_exists; the default looks at this machine's file system. */
  readonly fileExists?: (path: string) => boolean
  /** Refuse every connection as apply-inbound-acl would (text/rude-rejection). */
  readonly refuseClients?: boolean
}
