// Times the reference MAM implementations: node reference_mam.js <security> <messageTrytes> <repeat>
// Run with NODE_PATH=tests/vectors/node_modules (see bench_mam.py). Prints one JSON line.
const mamjs = require("@iota/mam.js");
const Mam = require("@iota/mam");

const [security, length, repeat] = process.argv.slice(2).map(Number);
const seed = "ABCDEFGHIJKLMNOPQRSTUVWXYZ9".repeat(3);
const message = "SENSORDATA9".repeat(Math.ceil(length / 11)).slice(0, length);

function median(xs) {
    const s = xs.slice().sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function time(fn) {
    const t = [];
    for (let i = 0; i < repeat; i++) {
        const start = process.hrtime.bigint();
        fn();
        t.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
    return median(t);
}

const channel = mamjs.createChannel(seed, security, "restricted", "SIDEKEY");
const mamjsCreate = time(() => mamjs.createMessage(channel, message));
const sample = mamjs.createMessage(channel, message);
const mamjsParse = time(() => mamjs.parseMessage(sample.payload, sample.root, channel.sideKey));

let state = Mam.init("http://localhost:14265", seed, security);
state = Mam.changeMode(state, "restricted", "SIDEKEY");
const wasmCreate = time(() => { state = Mam.create(state, message).state; });

console.log(JSON.stringify({ mamjsCreate, mamjsParse, wasmCreate }));
