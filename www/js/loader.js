// Fetches a file that ships with the page, reporting bytes as they arrive.

/**
 * Resolves to the body as a Uint8Array; onProgress(received, total) is called per chunk
 * (total is null when the server sends no Content-Length). `signal` (an AbortSignal) stops
 * the download: the promise rejects with an AbortError.
 */
export async function fetchWithProgress(url, onProgress, { signal } = {}) {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  const header = response.headers.get('Content-Length');
  const total = header ? Number(header) : null;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress(bytes.length, bytes.length);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  onProgress(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress(received, total);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(0)} kB`;
  return `${(n / 1048576).toFixed(2)} MB`;
}
