// What an Aptos node's answer says: whether it may be stored (committed transactions only, no
// cookies), whether it is what its endpoint returns (judge: a failing node's 200 HTML page is not),
// what it tells about the node (head, oldest kept version) and which headers are kept with it.
import { keptHeaders } from '../response/headers.js';
import { ACCEPT_BCS, fromV1, matchRoute, negotiateAccept, parseU64, TextMemo } from './aptos-routes.js';
import { jsonShape, leadingShape } from './json-shape.js';
import type { Call, CallAnswer, NodeFacts, UpstreamPayload } from './types.js';

export function isCacheable(call: Call, answer: CallAnswer): boolean {
  if (answer.status !== 200 || answer.headers['set-cookie'] !== undefined || call.coalesceOnly === true) return false;
  // SDKs poll by_hash while a transaction is pending; only a committed transaction is final.
  if (call.name === 'tx_by_hash') return isCommittedTransaction(answer.body);
  return true;
}

function isCommittedTransaction(body: Buffer): boolean {
  try {
    const tx: unknown = JSON.parse(body.toString('utf8'));
    if (typeof tx !== 'object' || tx === null) return false;
    const type = (tx as Record<string, unknown>).type;
    return typeof type === 'string' && type !== 'pending_transaction';
  } catch {
    return false;
  }
}

/**
 * A 200 must be what the endpoint returns before it may be stored or shared: a request that
 * negotiated BCS gets `application/x-bcs`; a JSON one gets a JSON content type and a body that
 * parses to the endpoint's shape (an object, or an array for the list endpoints). Anything else —
 * a balancer's `200 text/html` maintenance page — is a failing node: counted, asked elsewhere.
 */
export function judge(answer: CallAnswer, pins: ReadonlyArray<bigint | undefined>, request?: UpstreamPayload): 'ok' | 'bad' | 'lacks-version' {
  if (answer.status === 200) return bodyFitsEndpoint(answer, request) ? 'ok' : 'bad';
  // A 404 for a version above the node's own ledger: it is behind, not the data missing.
  const pin = pins[0];
  if (answer.status !== 404 || pin === undefined) return 'ok';
  const nodeHead = nodeFacts(answer.headers).head;
  return nodeHead !== undefined && nodeHead < pin ? 'lacks-version' : 'ok';
}

function bodyFitsEndpoint(answer: CallAnswer, request: UpstreamPayload | undefined): boolean {
  const type = mediaType(answer.headers['content-type']);
  if (request === undefined) return !type.includes('json') || jsonShape(answer.body) !== undefined;
  const route = matchRoute(request.method, fromV1(pathOf(request.pathAndQuery)));
  // Unknown endpoints are not cached: only a JSON that does not parse is judged there.
  if (route === undefined) return !type.includes('json') || jsonShape(answer.body) !== undefined;
  if (negotiateAccept(request.headers.accept) === 'bcs') return type === ACCEPT_BCS;
  if (type !== 'application/json') return false;
  // The top-level kind is the first character's: a body that cannot be the endpoint's shape is
  // refused without reading the rest; one that can must be valid JSON to its end.
  const lead = leadingShape(answer.body);
  if (route.answer === 'number' ? lead !== 'number' && lead !== 'string' : lead !== route.answer) return false;
  return jsonShape(answer.body) === lead;
}

function pathOf(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  return q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
}

function mediaType(v: string | string[] | undefined): string {
  const text = Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  return mediaTypeOf(text);
}

/** `Type/Sub; params` → `type/sub` (remembered: nodes and clients send the same few). */
export function mediaTypeOf(text: string): string {
  return mediaTypes.get(text, (t) => (t.split(';')[0] ?? '').trim().toLowerCase());
}

const mediaTypes = new TextMemo<string>();

/**
 * Every Aptos answer names the node's ledger version and, when it prunes, the oldest it keeps.
 * Asked of each answer twice or more (failover learns the head, observe-answers confirms it), and
 * a node's answers within one block carry the same two texts: the last facts are kept with the
 * texts they came from and returned again (frozen: the facts are read, never changed).
 */
export function nodeFacts(headers: Record<string, string | string[] | undefined>): NodeFacts {
  const headText = headers['x-aptos-ledger-version'];
  const oldestText = headers['x-aptos-ledger-oldest-version'];
  if (headText === lastFacts.headText && oldestText === lastFacts.oldestText && typeof headText === 'string') return lastFacts.facts;
  const facts: NodeFacts = {};
  const head = u64Header(headText);
  if (head !== undefined) facts.head = head;
  const oldest = u64Header(oldestText);
  if (oldest !== undefined) facts.oldest = oldest;
  Object.freeze(facts);
  if (typeof headText === 'string' && (oldestText === undefined || typeof oldestText === 'string')) lastFacts = { headText, oldestText, facts };
  return facts;
}

let lastFacts: { headText: string | undefined; oldestText: string | undefined; facts: NodeFacts } = { headText: undefined, oldestText: undefined, facts: Object.freeze({}) };

function u64Header(v: string | string[] | undefined): bigint | undefined {
  const text = Array.isArray(v) ? v[0] : v;
  return text === undefined ? undefined : parseU64(text.trim());
}

/** The X-Aptos-* headers describe the ledger the answer is for (version, epoch, chain id): kept. */
export const storableHeaders = (headers: Record<string, string | string[] | undefined>) => keptHeaders(headers, describesLedger);

// Remembered by name: nodes send the same dozen header names on every answer.
const describesLedger = (name: string): boolean => ledgerHeaderNames.get(name, (n) => n === 'content-type' || n.startsWith('x-aptos-'));
const ledgerHeaderNames = new TextMemo<boolean>();

export function headFromLedgerInfo(status: number, body: Buffer): bigint | undefined {
  if (status !== 200) return undefined;
  try {
    const info: unknown = JSON.parse(body.toString('utf8'));
    const lv = typeof info === 'object' && info !== null ? (info as Record<string, unknown>).ledger_version : undefined;
    return typeof lv === 'string' ? parseU64(lv) : undefined;
  } catch {
    return undefined;
  }
}
