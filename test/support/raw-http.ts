import { connect, Socket } from 'node:net';

/** An HTTP answer as read off the wire. */
export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `request` byte for byte to the server at `baseUrl` and reads until the server closes
 * the connection: for requests no HTTP client would send (unknown methods, duplicate
 * Content-Length, oversized headers, broken request lines).
 */
export function sendRaw(baseUrl: string, request: string | Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname, () => socket.write(request));
  return readAnswer(socket);
}

/**
 * Like `sendRaw`, for pipelined requests: every answer the server wrote before closing, in order
 * (each answer's body is delimited by its Content-Length).
 */
export async function sendRawPipelined(baseUrl: string, request: string | Buffer): Promise<RawAnswer[]> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname, () => socket.write(request));
  const answers: RawAnswer[] = [];
  // Content-Length counts bytes: split the bytes, decode each answer on its own.
  let rest = await readUntilClose(socket);
  while (rest.length > 0) {
    const split = rest.indexOf('\r\n\r\n');
    const head = parseAnswer(rest.subarray(0, split + 4).toString('utf8'));
    const end = split + 4 + Number(head.headers['content-length'] ?? 0);
    answers.push({ ...head, body: rest.subarray(split + 4, end).toString('utf8') });
    rest = rest.subarray(end);
  }
  return answers;
}

/** Reads what the server writes on `socket` until it closes the connection. */
export async function readAnswer(socket: Socket): Promise<RawAnswer> {
  return parseAnswer((await readUntilClose(socket)).toString('utf8'));
}

function readUntilClose(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may close while we are still writing (it refuses as soon as it can): what it
    // answered before closing is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** The first answer in `text`; its body is all that follows the headers. */
function parseAnswer(text: string): RawAnswer {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4) };
}
