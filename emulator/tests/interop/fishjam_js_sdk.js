// The official Fishjam JS server SDK against the emulator (Fishjam Cloud mode).
//
// Run by `emulator/tests/interop.rs`:
//
//     node fishjam_js_sdk.js BASE_URL TOKEN
//
// FishjamWSNotifier receives a room lifecycle while FishjamClient makes every call it has. Prints
// one JSON object: the calls made and every notification the notifier emitted, in order. Any
// failure throws, so the process exits non-zero with the SDK's own error.

const sdk = require('@fishjam-cloud/js-server-sdk');

const [base, token] = process.argv.slice(2);
const config = { fishjamId: base, managementToken: token };

// What FishjamWSNotifier 0.25.0 emits (its `expectedEventsList`).
const EVENTS = [
  'roomCreated', 'roomDeleted', 'roomCrashed', 'peerAdded', 'peerDeleted', 'peerConnected',
  'peerDisconnected', 'peerMetadataUpdated', 'peerCrashed', 'streamConnected', 'streamDisconnected',
  'viewerConnected', 'viewerDisconnected', 'trackAdded', 'trackRemoved', 'trackMetadataUpdated',
];

const snake = (name) => name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

function assert(condition, what) {
  if (!condition) throw new Error(`assertion failed: ${what}`);
}

async function control(path, body) {
  const response = await fetch(`${base}/emulator${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  assert(response.ok, `control ${path}: ${response.status}`);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

async function main() {
  const received = [];
  const waiters = [];
  const notifier = new sdk.FishjamWSNotifier(
    config,
    (error) => { throw new Error(`notifier error: ${error?.message ?? error}`); },
    () => {},
  );
  for (const event of EVENTS) {
    notifier.on(event, (message) => {
      received.push(snake(event));
      for (const waiter of waiters.splice(0)) waiter(event, message);
    });
  }
  // The notifier has no ready signal: create a room until its `roomCreated` comes back.
  const client = new sdk.FishjamClient(config);
  const calls = [];
  const call = async (name, promise) => { const value = await promise; calls.push(name); return value; };
  const next = (wanted, test) => new Promise((resolve) => {
    const waiter = (event, message) => (event === wanted && test(message) ? resolve() : waiters.push(waiter));
    waiters.push(waiter);
  });
  let probe;
  for (let attempt = 0; attempt < 200 && !probe; attempt++) {
    const room = await client.createRoom();
    const seen = next('roomCreated', (m) => m.roomId === room.id);
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 50));
    if ((await Promise.race([seen, timeout])) !== 'timeout') probe = room;
  }
  assert(probe, 'the notifier subscribed');
  calls.push('createRoom');

  const room = await call('createRoom(options)', client.createRoom({ maxPeers: 10, roomType: 'conference', webhookUrl: 'http://127.0.0.1:9/webhook' }));
  assert(room.config.maxPeers === 10, JSON.stringify(room));
  const rooms = await call('getAllRooms', client.getAllRooms());
  assert(rooms.some((r) => r.id === room.id), 'listed');
  assert((await call('getRoom', client.getRoom(room.id))).id === room.id, 'got');
  const { peer: alice, peerToken } = await call('createPeer', client.createPeer(room.id));
  assert(peerToken && alice.type === 'webrtc', JSON.stringify(alice));
  const { peer: bob } = await call('createPeer(options)', client.createPeer(room.id, { metadata: { name: 'Bob' }, subscribeMode: 'manual' }));
  assert((await call('refreshPeerToken', client.refreshPeerToken(room.id, alice.id))), 'token');
  await control(`/room/${room.id}/peer/${alice.id}/connect`);
  const track = (await control(`/room/${room.id}/peer/${alice.id}/track`, { type: 'video' })).data.id;
  await call('subscribePeer', client.subscribePeer(room.id, bob.id, alice.id));
  await call('subscribeTracks', client.subscribeTracks(room.id, bob.id, [track]));
  const viewer = await call('createLivestreamViewerToken', client.createLivestreamViewerToken(room.id));
  assert(viewer.token, JSON.stringify(viewer));
  const streamer = await call('createLivestreamStreamerToken', client.createLivestreamStreamerToken(room.id));
  assert(streamer.token, JSON.stringify(streamer));
  await control(`/room/${room.id}/peer/${alice.id}/disconnect`);
  await call('deletePeer', client.deletePeer(room.id, bob.id));
  const last = next('roomDeleted', (m) => m.roomId === room.id);
  await client.deleteRoom(probe.id);
  await call('deleteRoom', client.deleteRoom(room.id));
  await last;
  console.log(JSON.stringify({ calls, notifications: received }));
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
