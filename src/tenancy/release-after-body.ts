/** Content types whose body is complete when the handler returns (no further database work). */
const BUFFERED_TYPES = ["application/json", "application/problem+json", "text/plain"];

/**
 * Calls `release` once the response no longer needs the tenant's database. Buffered bodies (JSON,
 * problems, text) release at once; a streamed body (the audit NDJSON export keeps querying while
 * it streams) releases when it has been read to the end, fails, or is cancelled by the client, so
 * the pool registry cannot close the pool between two pages of an export.
 */
export function releaseAfterBody(res: Response, release: () => void): Response {
  const type = res.headers.get("content-type") ?? "";
  if (!res.body || BUFFERED_TYPES.some((t) => type.startsWith(t))) {
    release();
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
