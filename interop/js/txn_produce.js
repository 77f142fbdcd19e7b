// A kafkajs transactional producer, driven by interop/test_transactions.py.
//
// Usage: node txn_produce.js BOOTSTRAP TOPIC TRANSACTIONAL_ID STEP...
//   STEP = commit:PREFIX:COUNT | abort:PREFIX:COUNT
//          | offsets:GROUP:TOPIC:PARTITION:OFFSET:PREFIX:COUNT (records + sendOffsets, then commit)
// Each step is one transaction whose records have values PREFIX-0 .. PREFIX-(COUNT-1) and
// the same keys. Prints one JSON line: {"ok": true, "steps": N} or {"ok": false, "error": "..."}.
'use strict'
const { Kafka, logLevel } = require('kafkajs')

async function main() {
  const [bootstrap, topic, transactionalId, ...steps] = process.argv.slice(2)
  const kafka = new Kafka({
    clientId: 'strata-interop-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  })
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    for (const step of steps) {
      const parts = step.split(':')
      const kind = parts[0]
      const [prefix, count] = kind === 'offsets' ? parts.slice(5) : parts.slice(1)
      const messages = []
      for (let i = 0; i < Number(count); i++) {
        messages.push({ key: `${prefix}-${i}`, value: `${prefix}-${i}` })
      }
      const txn = await producer.transaction()
      await txn.send({ topic, messages })
      if (kind === 'offsets') {
        const [, group, otopic, partition, offset] = parts
        await txn.sendOffsets({
          consumerGroupId: group,
          topics: [{ topic: otopic, partitions: [{ partition: Number(partition), offset }] }],
        })
      }
      if (kind === 'abort') {
        await txn.abort()
      } else {
        await txn.commit()
      }
    }
    console.log(JSON.stringify({ ok: true, steps: steps.length }))
  } finally {
    await producer.disconnect()
  }
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: `${e.name}: ${e.message}` }))
  process.exit(1)
})
