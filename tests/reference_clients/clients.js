// The reference JavaScript clients against a node: node clients.js <command> <node URL> [args...]
// Driven by tests/test_reference_clients.py; each command prints one JSON object on stdout.
//
//   publish <url> <mwm> <seed> <sideKey> <message trytes>...  mam.js: a restricted channel, each
//                                                          message attached with remote PoW
//   read <url> <root> <sideKey>                            mam.js: mamFetchAll to the end, and
//                                                          mamFetch of the root
//   core <url> <mwm>                                       @iota/core: the calls a legacy app makes
"use strict";

const { composeAPI } = require("@iota/core");
const { addChecksum } = require("@iota/checksum");
const { asciiToTrytes } = require("@iota/converter");
const mam = require("@iota/mam.js");

const DEPTH = 3;

async function publish(api, [mwm, seed, sideKey, ...messages]) {
    const channel = mam.createChannel(seed, 1, "restricted", sideKey);
    const published = [];
    for (const message of messages) {
        const created = mam.createMessage(channel, message); // advances the channel        // no local attachToTangle: sendTrytes asks the node to attach (remote proof of work)
        const transactions = await mam.mamAttach(api, created, DEPTH, Number(mwm), "REFERENCECLIENTS");
        published.push({
            root: created.root,
            address: created.address,
            tail: transactions.find(t => t.currentIndex === 0).hash,
            transactions: transactions.length,
        });
    }
    return { published };
}

async function read(api, [root, sideKey]) {
    const all = await mam.mamFetchAll(api, root, "restricted", sideKey);
    const first = await mam.mamFetch(api, root, "restricted", sideKey);
    return {
        all: all.map(m => ({ root: m.root, nextRoot: m.nextRoot, message: m.message })),
        first: first && { root: first.root, nextRoot: first.nextRoot, message: first.message },
    };
}

async function core(api, [mwm]) {
    const out = {};
    const info = await api.getNodeInfo();
    out.nodeInfo = info;
    out.neighbors = await api.getNeighbors();
    out.toApprove = await api.getTransactionsToApprove(DEPTH);

    const address = "REFERENCE9CLIENT9ADDRESS".padEnd(81, "9");
    const tag = "REFERENCE9CORE";
    // two transactions: the reattachment below sends them back highest index first
    const message = asciiToTrytes(JSON.stringify({ hello: "sandbox ".repeat(200) }));
    const trytes = await api.prepareTransfers("9".repeat(81), [
        { address: addChecksum(address), value: 0, message, tag },
    ]);
    const sent = await api.sendTrytes(trytes, DEPTH, Number(mwm)); // attachToTangle on the node
    const tail = sent.find(t => t.currentIndex === 0);
    out.sent = sent.map(t => ({ hash: t.hash, currentIndex: t.currentIndex, bundle: t.bundle }));

    const found = await api.findTransactionObjects({ addresses: [addChecksum(address)] });
    out.found = found.map(t => t.hash);
    out.foundByTag = await api.findTransactions({ tags: [tag] });
    out.nothingFound = await api.findTransactionObjects({ addresses: ["9".repeat(80) + "A"] });
    out.noObjects = await api.getTransactionObjects([]);
    out.noTrytes = await api.getTrytes([]);
    const objects = await api.getTransactionObjects([tail.hash]);
    out.objectMessage = objects[0].signatureMessageFragment;
    out.message = message.slice(0, 2187);
    const bundle = await api.getBundle(tail.hash);
    out.bundle = bundle.map(t => t.hash);
    out.inclusion = await api.getInclusionStates([tail.hash, "9".repeat(80) + "A"]);
    out.noInclusion = await api.getInclusionStates([]);
    if (typeof api.getLatestInclusion === "function") {
        out.latestInclusion = await api.getLatestInclusion([tail.hash]);
    }
    out.consistent = await api.checkConsistency([tail.hash]);
    out.consistentTail = await api.checkConsistency(tail.hash);
    const balances = await api.getBalances([addChecksum(address)]);
    out.balances = balances.balances;
    out.noBalances = (await api.getBalances([])).balances;
    out.spent = await api.wereAddressesSpentFrom([addChecksum(address)]);
    out.noSpent = await api.wereAddressesSpentFrom([]);
    out.promotable = await api.isPromotable(tail.hash);
    const stored = await api.storeAndBroadcast(await api.getTrytes(out.bundle)); // a resend
    out.storedAgain = stored.length;
    // a wallet's other habits: reattach (the node sorts what it attaches by index), promote
    // (tip selection with a reference), a fresh address (findTransactions, wereAddressesSpentFrom)
    const replayed = await api.replayBundle(tail.hash, DEPTH, Number(mwm));
    out.replayed = replayed.map(t => ({ hash: t.hash, currentIndex: t.currentIndex, bundle: t.bundle }));
    const promoted = await api.promoteTransaction(tail.hash, DEPTH, Number(mwm), [
        { address: "9".repeat(81), value: 0, tag: "PROMOTE" },
    ]);
    out.promoted = promoted.length;
    out.newAddress = await api.getNewAddress("REFERENCE9WALLET".padEnd(81, "9"), { index: 0 });
    out.interrupted = await api.interruptAttachingToTangle();
    out.after = await api.getNodeInfo();
    return out;
}

const COMMANDS = { publish, read, core };

async function main() {
    const [command, provider, ...args] = process.argv.slice(2);
    const api = composeAPI({ provider });
    const result = await COMMANDS[command](api, args);
    process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch(error => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
});
