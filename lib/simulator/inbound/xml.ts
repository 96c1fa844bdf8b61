import { createRequire } from 'node:module'
import type { XMLParser } from 'fast-xml-parser'

/**
 * The loaded XML registry of the fake FreeSWITCH: an element tree, printed the way
 * switch_xml_toxml_r() in src/switch_xml.c prints it (what `xml_locate` answers): two spaces of
 * indent per level (XML_INDENT), `/>` and a newline for an empty element, attribute values with
 * & < > " escaped (switch_xml_ampencode with a=1, which also writes \n and \t as &#xA; &#x9;).
 */

export interface XmlElement {
  readonly name: string
  readonly attrs: ReadonlyArray<readonly [string, string]>
  readonly children: readonly XmlElement[]
}

const escapeAttr = (v: string): string => v
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
  .replace(/\n/g, '&#xA;').replace(/\t/g, '&#x9;').replace(/\r/g, '&#xD;')

export function toFsXml (el: XmlElement, depth = 0): string {
  const indent = '  '.repeat(depth)
  const attrs = el.attrs.map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('')
  if (el.children.length === 0) return `${indent}<${el.name}${attrs}/>\n`
  return `${indent}<${el.name}${attrs}>\n${el.children.map((c) => toFsXml(c, depth + 1)).join('')}${indent}</${el.name}>\n`
}

type Ordered = Record<string, unknown> & { ':@'?: Record<string, string> }
let parser: XMLParser | undefined

/** Built on first use: fast-xml-parser's ES build is ~25 modules every test that imports the simulator would load. */
function xmlParser (): XMLParser {
  const { XMLParser } = createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser')
  parser ??= new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true, commentPropName: '#comment', trimValues: true })
  return parser
}

/** Elements of an XML text (comments and text dropped), for building a registry in tests. */
export function parseXml (text: string): XmlElement[] {
  const walk = (nodes: Ordered[]): XmlElement[] => nodes.flatMap((n) => {
    const name = Object.keys(n).find((k) => k !== ':@' && k !== '#text' && k !== '#comment' && !k.startsWith('?'))
    if (name === undefined) return []
    return [{ name, attrs: Object.entries(n[':@'] ?? {}), children: walk(n[name] as Ordered[]) }]
  })
  return walk(xmlParser().parse(text) as Ordered[])
}

export const attr = (el: XmlElement, name: string): string | undefined => el.attrs.find(([k]) => k === name)?.[1]

/**
 * switch_xml_locate(section, tag, attr, value) over the root document: the <section name=...>,
 * then its first child <tag attr="value">.
 */
export function locate (root: XmlElement, section: string, tag: string, attrName: string, value: string): XmlElement | undefined {
  const sec = root.children.find((c) => c.name === 'section' && attr(c, 'name') === section)
  return sec?.children.find((c) => c.name === tag && attr(c, attrName) === value)
}

/**
 * The document with <configuration name=NAME> of its configuration section replaced by `conf`,
 * added when there is none, or removed when `conf` is undefined: a config file as FreeSWITCH
 * would have loaded it (switch_xml_open_cfg in src/switch_xml.c ~2545 finds it by the same
 * lookup `xml_locate configuration configuration name NAME` makes, so both see this element).
 */
export function withConfiguration (root: XmlElement, name: string, conf: XmlElement | undefined): XmlElement {
  const isSection = (c: XmlElement): boolean => c.name === 'section' && attr(c, 'name') === 'configuration'
  const edit = (section: XmlElement): XmlElement => {
    const others = section.children.filter((c) => !(c.name === 'configuration' && attr(c, 'name') === name))
    return { ...section, children: conf === undefined ? others : [...others, conf] }
  }
  const empty: XmlElement = { name: 'section', attrs: [['name', 'configuration']], children: [] }
  const sections = root.children.some(isSection) ? root.children : [...root.children, empty]
  return { ...root, children: sections.map((c) => isSection(c) ? edit(c) : c) }
}
