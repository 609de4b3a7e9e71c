// Drives the real JavaScript Socket.IO client (socket.io-client) for
// jwt-guard's Socket.IO tests (tests/it/socketio): one long-running process
// holding many sockets, one JSON request per line on stdin, one JSON object
// per line on stdout (and nothing else there: diagnostics go to stderr).
//
//   {"op":"versions"}
//     -> {"versions":{"socket.io-client":"4.8.4"}}
//   {"op":"connect","id":"s1","url":"http://127.0.0.1:PORT",
//    "namespace":"/" (optional, the default),"transport":"websocket"|"polling",
//    "auth":{…} (optional: the `auth` option, only when present),
//    "headers":{…} (optional: `extraHeaders`),"query":{…} (optional),
//    "path":"/socket.io" (optional: the server's path, the client's default)}
//     -> {"id":"s1","op":"connect","started":true}   at once, then, whenever
//        the client sees them, the socket's events:
//        {"id":"s1","event":"connect"}
//        {"id":"s1","event":"connect_error","message":…,"data":… | null,
//         "description":… (only for a transport error: the HTTP status of a
//         polling request, the message of a WebSocket error)}
//        {"id":"s1","event":"disconnect","reason":"io server disconnect"|…}
//        {"id":"s1","event":"<what the server emitted>","args":[…]}
//   {"op":"emit","id":"s1","event":"whoami","args":[…],"ack":true|false,"req":"r1"}
//     -> with ack, when it comes or after 5 s: {"req":"r1","ack":[…the ack's arguments]}
//        | {"req":"r1","error":"timeout"}
//        | {"req":"r1","error":"socket has been disconnected"} (closed while waiting)
//     -> without ack, at once: {"req":"r1","sent":true}
//   {"op":"close","id":"s1","req":"r2"}
//     -> {"id":"s1","event":"disconnect","reason":"io client disconnect"} if it
//        was connected, then {"req":"r2","closed":true}; the id is free again
//   {"op":"connected","req":"r3"}
//     -> {"req":"r3","ids":[…the ids of the sockets connected now]}
//   any other id -> {"req":…,"error":"no such socket"}
//   anything malformed -> {"req":… (if it had one),"error":"…"}; a malformed
//     connect, or one whose id is still in use, also carries "id" and
//     "op":"connect"
//
// The socket's address is url (less any trailing /) + namespace. Every socket
// has a manager of its own (forceNew), the one transport asked for and no
// upgrade, no reconnection and a 10 s connect timeout. An event the server
// emits with an ack is reported without the ack's callback, and never
// acknowledged. A socket keeps its id after a refusal or a server's
// disconnect until it is closed. Lines come in the order the client saw
// them. The process closes every socket and exits when stdin closes.

import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';

const require = createRequire(import.meta.url);
const versions = {
  'socket.io-client': require('socket.io-client/package.json').version,
};

const ACK_TIMEOUT_MS = 5000;
const sockets = new Map();

// One line per message: a pipe's writes are synchronous on Linux, and in any
// case in order, so lines never interleave nor change order.
function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

process.stdout.on('error', (error) => {
  // The reader went away (EPIPE): nobody is left to answer.
  console.error(`socketio.mjs: stdout: ${error.message}`);
  process.exit(0);
});

class RequestError extends Error {}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalObject(req, field) {
  if (req[field] === undefined || req[field] === null) return undefined;
  if (!isObject(req[field])) throw new RequestError(`"${field}" must be an object`);
  return req[field];
}

function requiredString(req, field) {
  if (typeof req[field] !== 'string' || req[field] === '') {
    throw new RequestError(`"${field}" must be a non-empty string`);
  }
  return req[field];
}

// What a transport error says about its cause, if it is printable.
function describe(description) {
  if (typeof description === 'number' || typeof description === 'string') return description;
  if (description && typeof description.message === 'string') return description.message;
  return undefined;
}

function connect(req) {
  const id = requiredString(req, 'id');
  const url = requiredString(req, 'url');
  const namespace = req.namespace ?? '/';
  if (typeof namespace !== 'string' || !namespace.startsWith('/')) {
    throw new RequestError('"namespace" must be a string starting with /');
  }
  if (req.transport !== 'websocket' && req.transport !== 'polling') {
    throw new RequestError('"transport" must be "websocket" or "polling"');
  }
  if (sockets.has(id)) throw new RequestError(`socket id ${id} is in use`);
  const auth = optionalObject(req, 'auth');
  const extraHeaders = optionalObject(req, 'headers');
  const query = optionalObject(req, 'query');
  const options = {
    transports: [req.transport],
    upgrade: false,
    reconnection: false,
    forceNew: true,
    timeout: 10000,
  };
  if (auth !== undefined) options.auth = auth;
  if (extraHeaders !== undefined) options.extraHeaders = extraHeaders;
  if (query !== undefined) options.query = query;
  if (req.path !== undefined) options.path = requiredString(req, 'path');

  const socket = io(url.replace(/\/+$/, '') + namespace, options);
  sockets.set(id, socket);
  socket.on('connect', () => send({ id, event: 'connect' }));
  socket.on('connect_error', (err) => {
    const line = { id, event: 'connect_error', message: err.message, data: err.data ?? null };
    const description = describe(err.description);
    if (description !== undefined) line.description = description;
    send(line);
  });
  socket.on('disconnect', (reason) => send({ id, event: 'disconnect', reason }));
  socket.onAny((event, ...args) => {
    // An event the server emits with an ack has our callback last: not data.
    if (typeof args[args.length - 1] === 'function') args.pop();
    send({ id, event, args });
  });
  const answer = { id, op: 'connect', started: true };
  if (req.req !== undefined) answer.req = req.req;
  return answer;
}

function socketFor(req) {
  const id = requiredString(req, 'id');
  return sockets.get(id);
}

function emit(req) {
  const socket = socketFor(req);
  const event = requiredString(req, 'event');
  const args = req.args ?? [];
  if (!Array.isArray(args)) throw new RequestError('"args" must be an array');
  if (req.ack !== undefined && typeof req.ack !== 'boolean') {
    throw new RequestError('"ack" must be true or false');
  }
  if (!socket) return { req: req.req, error: 'no such socket' };
  if (!req.ack) {
    socket.emit(event, ...args);
    return { req: req.req, sent: true };
  }
  socket.timeout(ACK_TIMEOUT_MS).emit(event, ...args, (err, ...response) => {
    if (err) {
      const error = err.message === 'operation has timed out' ? 'timeout' : err.message;
      send({ req: req.req, error });
    } else {
      send({ req: req.req, ack: response });
    }
  });
  return undefined; // answered when the ack comes
}

function close(req) {
  const socket = socketFor(req);
  if (!socket) return { req: req.req, error: 'no such socket' };
  socket.disconnect();
  sockets.delete(req.id);
  return { req: req.req, closed: true };
}

function handle(line) {
  if (line.trim() === '') return;
  let req;
  try {
    req = JSON.parse(line);
    if (!isObject(req)) throw new RequestError('a request must be a JSON object');
    let answer;
    switch (req.op) {
      case 'versions':
        answer = { versions };
        if (req.req !== undefined) answer.req = req.req;
        break;
      case 'connect':
        answer = connect(req);
        break;
      case 'emit':
        answer = emit(req);
        break;
      case 'close':
        answer = close(req);
        break;
      case 'connected':
        answer = {
          req: req.req,
          ids: [...sockets].filter(([, socket]) => socket.connected).map(([id]) => id),
        };
        break;
      default:
        throw new RequestError(`unknown op ${JSON.stringify(req.op)}`);
    }
    if (answer !== undefined) send(answer);
  } catch (error) {
    const answer = {};
    if (isObject(req) && req.req !== undefined) answer.req = req.req;
    if (isObject(req) && req.op === 'connect' && typeof req.id === 'string') {
      answer.id = req.id;
      answer.op = 'connect';
    }
    answer.error = error instanceof RequestError || error instanceof SyntaxError
      ? error.message
      : `${error.name}: ${error.message}`;
    send(answer);
  }
}

process.on('uncaughtException', (error) => {
  // A socket's failure must not take the others down with it.
  console.error('socketio.mjs: uncaught:', error);
});

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', handle);
lines.on('close', () => {
  for (const socket of sockets.values()) socket.disconnect();
  sockets.clear();
  // Exit once every line written so far has been flushed.
  process.stdout.write('', () => process.exit(0));
});
