// How a request ends: its error answer, its end stage (metrics + log), and the release of the
// runtime lease it holds. None of these throws: they run inside the request's own events (the
// body's 'end', a promise's handler), where a throw is an uncaught exception that ends the process
// and every other client's request with it.
import type { ServerResponse } from 'node:http';
import { asProxyError } from '../errors.js';
import { writeError } from '../response/error-reply.js';
import type { RuntimeLease } from '../runtime/runtime.js';
import type { RequestContext } from '../server/context.js';
import type { ProxyState } from '../server/state.js';
import { endRequest } from './end.js';

export function finishAfter(state: ProxyState, ctx: RequestContext, lease: RuntimeLease, rest: Promise<void>): void {
  rest.then(
    () => finishRequest(state, ctx, lease),
    (err: unknown) => {
      answerError(state, ctx, err);
      finishRequest(state, ctx, lease);
    },
  );
}

/**
 * The request's error answer. It never throws: it runs inside the request's own events (the body's
 * 'end', a promise's handler), where a throw is an uncaught exception that ends the process and
 * every other client's request with it. An answer that cannot be written cuts that one request off.
 */
export function answerError(state: ProxyState, ctx: RequestContext, err: unknown): void {
  ctx.error = asProxyError(err);
  ctx.cacheResult = 'error';
  ctx.status = ctx.error.status;
  try {
    writeError(ctx.res, ctx.route?.group.dialect.kind ?? 'rest', ctx.error, ctx.id);
  } catch (thrown) {
    cutOff(state, ctx, thrown, 'error answer could not be written');
  }
}

/** The end stage, then the lease. Never throws, for the same reason as answerError. */
export function finishRequest(state: ProxyState, ctx: RequestContext, lease: RuntimeLease): void {
  try {
    endRequest(ctx, state.log, ctx.runtime.config.log.requests);
  } catch (thrown) {
    cutOff(state, ctx, thrown, 'request could not be finished');
  }
  releaseWhenDone(lease, ctx.res);
}

/**
 * A request the proxy could not finish cleanly (its log line or its error answer threw): logged with
 * its id, and its socket destroyed, so its client sees a failed exchange rather than a connection
 * that may hold half an answer. The process and every other request go on.
 */
function cutOff(state: ProxyState, ctx: RequestContext, thrown: unknown, what: string): void {
  try {
    state.log.error({ reqId: ctx.id, err: thrown }, what);
  } catch {
    // The logger is what broke: nothing left to tell; the socket still goes.
  }
  ctx.res.destroy();
}

/** Leases whose handler is done while their response still goes on, by response. */
const releasing = new Map<ServerResponse, RuntimeLease>();

/**
 * The lease is released when the handler is done *and* the response is over: a streamed answer
 * still flows through the leased runtime's node after the handler has returned. A response the
 * handler has ended (every buffered answer: its bytes are the socket's now, nothing reads the
 * runtime for them) or that has closed releases at once; any other releases on its 'close', which
 * comes after 'finish' on every ServerResponse, and alone when the client went away.
 */
function releaseWhenDone(lease: RuntimeLease, res: ServerResponse): void {
  if (res.writableEnded || res.closed) return lease.release();
  releasing.set(res, lease);
  res.on('close', releaseOnClose);
}

function releaseOnClose(this: ServerResponse): void {
  this.off('close', releaseOnClose);
  releasing.get(this)?.release();
  releasing.delete(this);
}
