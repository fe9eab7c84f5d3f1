// A minimal agent-runner worker in JavaScript (Node.js + the npm `redis` client).
//
// It hosts one agent type (AGENT_TYPE, default "jsecho") following the wire format of
// docs/concepts/distributed.md: heartbeats in the members sorted set, partitions by rendezvous
// hashing, leases, consumer group "agent-runner" on the inbox streams, JSON headers,
// replies on the caller's reply stream, XACK after handling.
//
// Environment: REDIS_URL, PREFIX, WORKER_ID, AGENT_TYPE, PARTITIONS, HEARTBEAT_MS, TTL_MS.
'use strict';

const crypto = require('crypto');
const { createClient } = require('redis');

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379/0';
const prefix = process.env.PREFIX || 'agent-runner';
const workerId = process.env.WORKER_ID || `js-${process.pid}`;
const agentType = process.env.AGENT_TYPE || 'jsecho';
const wantedPartitions = Number(process.env.PARTITIONS || 16);
const interval = Number(process.env.HEARTBEAT_MS || 1000);
const ttl = Number(process.env.TTL_MS || 5000);
const GROUP = 'agent-runner';
const JSON_CT = 'application/json';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) else return 0 end`;

const key = (name) => `${prefix}:${name}`;
const sha1 = (text) => crypto.createHash('sha1').update(text, 'utf8').digest();
const partitionOf = (agentKey, count) => sha1(agentKey).readUInt32BE(0) % count;
const score = (worker, type, p) => sha1(`${worker}/${type}/${p}`).readBigUInt64BE(0);

function ownerOf(workers, type, p) {
  let best = null;
  for (const worker of workers) {
    const s = score(worker, type, p);
    if (best === null || s > best[0] || (s === best[0] && worker > best[1])) best = [s, worker];
  }
  return best === null ? null : best[1];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The agent: answers Ping {text} with Pong {text}; anything else is an error reply.
function handleRpc(header, data) {
  if (header.type !== 'Ping') {
    return {
      header: {
        kind: 'error',
        error: {
          type: 'CantHandleException',
          module: 'agent_runner.errors',
          message: `${agentType} cannot handle ${header.type}`,
        },
      },
      data: '',
    };
  }
  const ping = JSON.parse(data);
  const text = `js ${ping.text} from ${header.sender || 'none'} to ${header.to}` +
    ` (partition ${partitionOf(header.to.slice(header.to.indexOf('/') + 1), partitions)})`;
  return { header: { kind: 'reply', type: 'Pong', ct: JSON_CT }, data: JSON.stringify({ text }) };
}

let partitions = wantedPartitions;
const owned = new Set();
let stopping = false;

async function main() {
  const client = createClient({ url });
  const reader = client.duplicate(); // blocking reads get their own connection
  client.on('error', (e) => console.error('redis', e.message));
  reader.on('error', (e) => console.error('redis', e.message));
  await client.connect();
  await reader.connect();

  async function beat() {
    const [sec, usec] = await client.sendCommand(['TIME']);
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const members = key(`members:${agentType}`);
    const info = JSON.stringify({ types: [agentType], lang: 'javascript', pid: process.pid });
    await client.sendCommand(['SET', key(`worker:${workerId}`), info, 'PX', String(ttl)]);
    await client.sendCommand(['HSETNX', key('types'), agentType, String(wantedPartitions)]);
    partitions = Number(await client.sendCommand(['HGET', key('types'), agentType]));
    await client.sendCommand(['ZADD', members, String(now + ttl), workerId]);
    await client.sendCommand(['ZREMRANGEBYSCORE', members, '-inf', String(now)]);
    const live = await client.sendCommand(['ZRANGE', members, '0', '-1']);
    for (let p = 0; p < partitions; p++) {
      const lease = key(`lease:${agentType}:${p}`);
      const mine = ownerOf(live, agentType, p) === workerId;
      if (owned.has(p)) {
        const kept = mine && (await client.sendCommand(['EVAL', RENEW, '1', lease, workerId, String(ttl)]));
        if (!kept) {
          owned.delete(p);
          await client.sendCommand(['EVAL', RELEASE, '1', lease, workerId]);
        }
      } else if (mine) {
        const ok = await client.sendCommand(['SET', lease, workerId, 'NX', 'PX', String(ttl)]);
        if (ok === 'OK') {
          try {
            await client.sendCommand(['XGROUP', 'CREATE', key(`in:${agentType}:${p}`), GROUP, '0', 'MKSTREAM']);
          } catch (e) {
            if (!String(e.message).includes('BUSYGROUP')) throw e;
          }
          owned.add(p);
        }
      }
    }
  }

  // An entry carries one message (h, d) or several (h, d, h1, d1, h2, d2, ...).
  async function handleEntry(stream, id, fields) {
    for (let n = 0; fields[n === 0 ? 'h' : `h${n}`] !== undefined; n++) {
      const suffix = n === 0 ? '' : String(n);
      await handle(fields[`h${suffix}`], fields[`d${suffix}`] || '');
    }
    await client.xAck(stream, GROUP, id);
  }

  async function handle(rawHeader, payload) {
    let header;
    try {
      header = JSON.parse(rawHeader);
    } catch (e) {
      return; // malformed: dropped, never crashes the worker
    }
    if (['rpc', 'save_state', 'load_state', 'metadata'].includes(header.kind) && header.reply_to) {
      let out;
      if (header.kind === 'rpc') {
        try {
          out = handleRpc(header, payload);
        } catch (e) {
          out = { header: { kind: 'error', error: { type: e.name, module: '', message: e.message } }, data: '' };
        }
      } else if (header.kind === 'metadata') {
        const [type, agentKey] = [agentType, header.to.slice(header.to.indexOf('/') + 1)];
        out = { header: { kind: 'reply', type: 'dict', ct: JSON_CT },
          data: JSON.stringify({ type, key: agentKey, description: 'a JavaScript agent' }) };
      } else {
        out = { header: { kind: 'reply', type: 'dict', ct: JSON_CT }, data: '{}' };
      }
      const reply = { v: 1, rid: header.rid, worker: workerId, to: header.to, ...out.header };
      await client.xAdd(header.reply_to, '*', { h: JSON.stringify(reply), d: out.data });
    }
  }

  const heartbeats = (async () => {
    while (!stopping) {
      try {
        await beat();
      } catch (e) {
        console.error('heartbeat failed', e.message);
      }
      await sleep(interval);
    }
  })();

  process.on('SIGTERM', () => { stopping = true; });
  process.on('SIGINT', () => { stopping = true; });

  while (!stopping) {
    const streams = [...owned].map((p) => ({ key: key(`in:${agentType}:${p}`), id: '>' }));
    if (streams.length === 0) {
      await sleep(20);
      continue;
    }
    let response = null;
    try {
      response = await reader.xReadGroup(GROUP, workerId, streams, { COUNT: 100, BLOCK: 200 });
    } catch (e) {
      console.error('read failed', e.message);
      await sleep(100);
      continue;
    }
    for (const { name, messages } of response || []) {
      for (const { id, message } of messages) await handleEntry(name, id, message);
    }
  }
  await heartbeats;
  for (const p of owned) {
    await client.sendCommand(['EVAL', RELEASE, '1', key(`lease:${agentType}:${p}`), workerId]);
  }
  await client.sendCommand(['ZREM', key(`members:${agentType}`), workerId]);
  await client.quit();
  await reader.quit();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
