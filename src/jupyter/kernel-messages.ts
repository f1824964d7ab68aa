// Jupyter kernel messages (jupyter_client docs/messaging.rst, message spec 5.x) and the two websocket wire
// formats of jupyter_server (docs/source/developers/websocket-protocols.rst): the default one, one JSON text
// frame per message `{channel, header, parent_header, metadata, content, buffers}`, and the binary
// `v1.kernel.websocket.jupyter.org` one, 64-bit little-endian offsets followed by the channel name and the
// JSON parts.
import { randomUUID } from 'node:crypto';

/** The message spec version Owlet speaks; 5.3 brought interrupts by message (messaging.rst "Kernel interrupt"). */
export const PROTOCOL_VERSION = '5.3';
/** The subprotocol of the binary wire format. */
export const V1_SUBPROTOCOL = 'v1.kernel.websocket.jupyter.org';

export type Channel = 'shell' | 'iopub' | 'stdin' | 'control' | 'hb';
const CHANNELS: readonly string[] = ['shell', 'iopub', 'stdin', 'control', 'hb'];

export type JsonObject = { [key: string]: unknown };

export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface KernelMessage {
  channel: Channel;
  header: MessageHeader;
  /** The request a message answers; `{}` for none. */
  parent_header: MessageHeader | JsonObject;
  metadata: JsonObject;
  content: JsonObject;
  buffers?: Uint8Array[];
}

export class BadMessageError extends Error {}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function checkMessage(parts: { channel: unknown; header: unknown; parent_header: unknown; metadata: unknown; content: unknown }): KernelMessage {
  const { channel, header, parent_header: parent, metadata, content } = parts;
  // jupyter_server assumes shell for a message without a channel ("No channel specified, assuming shell").
  const named = channel === undefined || channel === null ? 'shell' : channel;
  if (typeof named !== 'string' || !CHANNELS.includes(named)) throw new BadMessageError(`unknown channel ${String(channel)}`);
  if (!isObject(header) || typeof header.msg_type !== 'string' || typeof header.msg_id !== 'string') {
    throw new BadMessageError('a message needs a header with msg_id and msg_type');
  }
  return {
    channel: named as Channel,
    header: {
      msg_id: header.msg_id,
      msg_type: header.msg_type,
      session: typeof header.session === 'string' ? header.session : '',
      username: typeof header.username === 'string' ? header.username : '',
      date: typeof header.date === 'string' ? header.date : new Date().toISOString(),
      version: typeof header.version === 'string' ? header.version : PROTOCOL_VERSION,
    },
    parent_header: isObject(parent) ? parent : {},
    metadata: isObject(metadata) ? metadata : {},
    content: isObject(content) ? content : {},
  };
}

/** Reads a frame of the default (JSON) format. */
export function decodeJsonFrame(text: string): KernelMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadMessageError('the frame is not JSON');
  }
  if (!isObject(parsed)) throw new BadMessageError('the frame is not a JSON object');
  return checkMessage(parsed as Parameters<typeof checkMessage>[0]);
}

export function encodeJsonFrame(message: KernelMessage): string {
  const { buffers: _buffers, ...rest } = message;
  // jupyter_client's message dicts repeat msg_id and msg_type beside the header, and jupyter_server's frames
  // carry the whole dict; the gateway client reads them there (jupyter_server gateway/managers.py, ChannelQueue).
  return JSON.stringify({ ...rest, msg_id: message.header.msg_id, msg_type: message.header.msg_type, buffers: [] });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a frame of the v1 format: [count][offsets...][channel][header][parent_header][metadata][content][buffers...]. */
export function decodeV1Frame(frame: Uint8Array): KernelMessage {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const u64 = (at: number): number => {
    if (at + 8 > frame.byteLength) throw new BadMessageError('the frame is shorter than its offsets');
    return Number(view.getBigUint64(at, true));
  };
  const count = u64(0);
  if (count < 6 || 8 * (count + 1) > frame.byteLength) throw new BadMessageError('the frame has too few offsets');
  const offsets = Array.from({ length: count }, (_, i) => u64(8 * (i + 1)));
  for (let i = 1; i < count; i++) {
    if (offsets[i]! < offsets[i - 1]! || offsets[i]! > frame.byteLength) throw new BadMessageError('the frame has offsets out of order');
  }
  const part = (i: number): Uint8Array => frame.subarray(offsets[i]!, i + 1 < count ? offsets[i + 1]! : frame.byteLength);
  const json = (i: number): unknown => {
    try {
      return JSON.parse(utf8.decode(part(i)));
    } catch {
      throw new BadMessageError('a part of the frame is not JSON');
    }
  };
  const message = checkMessage({ channel: utf8.decode(part(0)), header: json(1), parent_header: json(2), metadata: json(3), content: json(4) });
  return message;
}

export function encodeV1Frame(message: KernelMessage): Buffer {
  const encoder = new TextEncoder();
  const parts = [message.channel, JSON.stringify(message.header), JSON.stringify(message.parent_header), JSON.stringify(message.metadata), JSON.stringify(message.content)].map((p) =>
    encoder.encode(p),
  );
  // One offset per part, and one for the end of the last part (where buffers would start).
  const count = parts.length + 1;
  const head = Buffer.alloc(8 * (count + 1));
  head.writeBigUInt64LE(BigInt(count), 0);
  let at = head.length;
  parts.forEach((p, i) => {
    head.writeBigUInt64LE(BigInt(at), 8 * (i + 1));
    at += p.byteLength;
  });
  head.writeBigUInt64LE(BigInt(at), 8 * count);
  return Buffer.concat([head, ...parts]);
}

/** Builds the kernel's side of a message. */
export function kernelMessage(
  channel: Channel,
  msgType: string,
  content: JsonObject,
  parent: MessageHeader | undefined,
  session: string,
  metadata: JsonObject = {},
): KernelMessage {
  return {
    channel,
    header: { msg_id: randomUUID(), session, username: 'owlet', date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION },
    parent_header: parent ?? {},
    metadata,
    content,
  };
}

/** The channel a request's reply goes out on: the one it came in on (shell or control). */
export function replyType(requestType: string): string {
  return requestType.endsWith('_request') ? `${requestType.slice(0, -'_request'.length)}_reply` : `${requestType}_reply`;
}
