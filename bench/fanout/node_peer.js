// The peer for bench/fanout: a plain Node.js `ws` server that reads the same Redis stream and
// speaks the same protocol subset (subscribe to exact topics, "prefix.*" or "*"; update
// frames). Written the way a small hand-made service would be, with a topic index so its
// personal-topic figures are not penalised by a full scan.
// Usage: node node_peer.js WS_PORT REDIS_PORT NAME [pubsub:CHANNEL:SUBJECT_FIELD | binance:URL |
//                                                 kafka:TOPIC:SUBJECT_FIELD:BROKERS]
// With pubsub:..., it is instead the hand-written task-status service: it subscribes to the
// channel and broadcasts each JSON message as an update of event.<message[SUBJECT_FIELD]>.
// With binance:URL (a combined-stream URL), it is the hand-written market-data service: it
// holds the upstream WebSocket, maps each 24hrTicker event to a price record of
// price.<BASE>-USDT and broadcasts it.
const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');

const [port, redisPort, name, mode] = process.argv.slice(2);
const exact = new Map(), prefix = new Map(), all = new Set();
const add = (m, k, ws) => (m.get(k) || m.set(k, new Set()).get(k)).add(ws);

const wss = new WebSocketServer({ port: Number(port), host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.subs = [];
  ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.type !== 'subscribe' || !Array.isArray(msg.topics)) return;
    for (const t of msg.topics) {
      ws.subs.push(t);
      if (t === '*') all.add(ws);
      else if (t.endsWith('.*')) add(prefix, t.slice(0, -1), ws);
      else add(exact, t, ws);
    }
    ws.send(JSON.stringify({ type: 'subscribed', topics: msg.topics }));
  });
  ws.on('close', () => {
    all.delete(ws);
    for (const t of ws.subs) (t.endsWith('.*') ? prefix.get(t.slice(0, -1)) : exact.get(t))?.delete(ws);
  });
});

function deliver(topic, frame) {
  const seen = new Set();
  const send = (ws) => { if (!seen.has(ws)) { seen.add(ws); ws.send(frame); } };
  all.forEach(send);
  exact.get(topic)?.forEach(send);
  for (let i = topic.indexOf('.'); i >= 0; i = topic.indexOf('.', i + 1)) prefix.get(topic.slice(0, i + 1))?.forEach(send);
}

async function pubsub(channel, field) {
  const sub = createClient({ socket: { host: '127.0.0.1', port: Number(redisPort) } });
  await sub.connect();
  const seqs = new Map();
  await sub.subscribe(channel, (text) => {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    const topic = `event.${msg[field]}`;
    const seq = (seqs.get(topic) ?? 0) + 1;
    seqs.set(topic, seq);
    const record = `{"topic":${JSON.stringify(topic)},"kind":"event","seq":${seq},"data":${text}}`;
    deliver(topic, `{"type":"update","topic":${JSON.stringify(topic)},"record":${record}}`);
  });
}

function binance(url) {
  const seqs = new Map();
  const num = (v) => (v === undefined ? undefined : Number(v));
  const connect = () => {
    const up = new WebSocket(url, { perMessageDeflate: false });
    up.on('message', (text) => {
      let msg;
      try { msg = JSON.parse(text); } catch { return; }
      const d = msg.data ?? msg;
      if (d.e !== '24hrTicker' || typeof d.s !== 'string') return;
      const subject = d.s.endsWith('USDT') ? `${d.s.slice(0, -4)}-USDT` : d.s;
      const topic = `price.${subject}`;
      const seq = (seqs.get(topic) ?? 0) + 1;
      seqs.set(topic, seq);
      const data = { price: num(d.c), change_24h: num(d.p), change_24h_pct: num(d.P), open_24h: num(d.o), high_24h: num(d.h),
        low_24h: num(d.l), volume_24h: num(d.v), quote_volume_24h: num(d.q), bid: num(d.b), ask: num(d.a) };
      const record = { topic, kind: 'price', subject, native: d.s, seq, source: 'binance', received: Date.now(), data, ts: d.E };
      deliver(topic, `{"type":"update","topic":${JSON.stringify(topic)},"record":${JSON.stringify(record)}}`);
    });
    up.on('close', () => setTimeout(connect, 250));
    up.on('error', () => {});
  };
  connect();
}

// The hand-written trading/task service on Kafka: a kafkajs consumer group, each JSON message
// broadcast as an update of event.<message[field]>.
async function kafka(topic, field, brokers) {
  const { Kafka, logLevel } = require('kafkajs');
  const consumer = new Kafka({ clientId: 'node-peer', brokers: brokers.split(','), logLevel: logLevel.ERROR })
    .consumer({ groupId: `node-peer-${process.pid}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  const seqs = new Map();
  await consumer.run({
    eachMessage: async ({ message }) => {
      const text = message.value.toString();
      let msg;
      try { msg = JSON.parse(text); } catch { return; }
      const topicName = `event.${msg[field]}`;
      const seq = (seqs.get(topicName) ?? 0) + 1;
      seqs.set(topicName, seq);
      const record = `{"topic":${JSON.stringify(topicName)},"kind":"event","seq":${seq},"data":${text}}`;
      deliver(topicName, `{"type":"update","topic":${JSON.stringify(topicName)},"record":${record}}`);
    },
  });
}

(async () => {
  if (mode?.startsWith('kafka:')) {
    const [, topic, field, ...brokers] = mode.split(':');
    return kafka(topic, field, brokers.join(':'));
  }
  if (mode?.startsWith('binance:')) return binance(mode.slice('binance:'.length));
  if (mode?.startsWith('pubsub:')) {
    const [, channel, field] = mode.split(':');
    return pubsub(channel, field);
  }
  const redis = createClient({ socket: { host: '127.0.0.1', port: Number(redisPort) } });
  await redis.connect();
  const key = `tributary:${name}:stream`;
  let id = '$';
  for (;;) {
    const res = await redis.xRead({ key, id }, { BLOCK: 1000, COUNT: 500 });
    if (!res) continue;
    for (const { id: entryId, message } of res[0].messages) {
      id = entryId;
      const record = JSON.parse(message.record);
      deliver(record.topic, `{"type":"update","topic":${JSON.stringify(record.topic)},"record":${message.record}}`);
    }
  }
})();
console.log('ready');
