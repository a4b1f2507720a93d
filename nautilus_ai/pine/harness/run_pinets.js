// Runs one Pine script in PineTS on the bars it is given and writes the plots back as JSON.
//
// Usage: node run_pinets.js <node_modules dir> <request.json> <response.json>
//
// PineTS (npm `pinets`, AGPL-3.0) is a test-time tool: this harness loads it from the folder the
// Python side installed it into and runs as a separate process; nothing of it is bundled into
// or imported by the nautilus-ai package.
//
// request:  {"script": str, "timeframe": str (Pine's, e.g. "1"), "bars": {"open": [...], "high": [...], "low": [...], "close": [...],
//            "volume": [...], "open_time": [ms...], "close_time": [ms...]}}
// response: {"plots": {title: [number|null per bar]}, "bars": n, "run_ms": float,
//            "pinets_version": str, "strategy": {...} | null,
//            "node": {"path": the node binary that ran, "version": "v24.19.0"}}
'use strict';

const fs = require('fs');
const path = require('path');

function fail(message) {
    process.stderr.write(`run_pinets: ${message}\n`);
    process.exit(2);
}

function plotValue(value) {
    if (typeof value === 'number') return Number.isFinite(value) ? value : null;
    if (value === true) return 1;
    if (value === false) return 0;
    return null; // na, undefined, colours and other non-numeric payloads
}

function tradeRecord(trade) {
    return {
        entry_id: trade.entry_id,
        entry_bar_index: trade.entry_bar_index,
        entry_price: trade.entry_price,
        entry_comment: trade.entry_comment ?? null,
        exit_bar_index: trade.exit_bar_index ?? null,
        exit_price: trade.exit_price ?? null,
        exit_comment: trade.exit_comment ?? null,
        size: trade.size,
        profit: trade.profit ?? null,
    };
}

async function main() {
    const [modulesDir, requestPath, responsePath] = process.argv.slice(2);
    if (!modulesDir || !requestPath || !responsePath) {
        fail('usage: node run_pinets.js <node_modules dir> <request.json> <response.json>');
    }
    const pinetsDir = path.join(modulesDir, 'pinets');
    const { PineTS } = require(pinetsDir);
    const version = JSON.parse(fs.readFileSync(path.join(pinetsDir, 'package.json'), 'utf8')).version;

    const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
    const bars = request.bars;
    const n = bars.close.length;
    for (const key of ['open', 'high', 'low', 'volume', 'open_time', 'close_time']) {
        if (!Array.isArray(bars[key]) || bars[key].length !== n) {
            fail(`bars.${key} must be an array of ${n} values`);
        }
    }
    const candles = new Array(n);
    for (let i = 0; i < n; i++) {
        candles[i] = {
            open: bars.open[i],
            high: bars.high[i],
            low: bars.low[i],
            close: bars.close[i],
            volume: bars.volume[i],
            openTime: bars.open_time[i],
            closeTime: bars.close_time[i],
        };
    }

    const started = process.hrtime.bigint();
    // The chart's timeframe ("1", "240", "1D"...): what timeframe.period / in_seconds() say.
    const pine = new PineTS(candles, undefined, request.timeframe);
    const context = await pine.run(request.script);
    const runMs = Number(process.hrtime.bigint() - started) / 1e6;

    const plots = {};
    for (const [key, plot] of Object.entries(context.plots || {})) {
        if (key.startsWith('__')) continue; // drawing objects (labels, lines, boxes...)
        plots[plot.title ?? key] = plot.data.map((point) => plotValue(point.value));
    }
    let strategy = null;
    if (context.strategy && Array.isArray(context.strategy.closedtrades)) {
        const s = context.strategy;
        strategy = {
            closed_trades: s.closedtrades.map(tradeRecord),
            open_trades: s.opentrades.map(tradeRecord),
            netprofit: s.netprofit,
            position_size: s.position_size,
        };
    }
    fs.writeFileSync(
        responsePath,
        JSON.stringify({
            plots,
            bars: n,
            run_ms: runMs,
            pinets_version: version,
            strategy,
            node: { path: process.execPath, version: process.version },
        }),
    );
}

main().catch((error) => {
    process.stderr.write(`run_pinets: ${(error && error.stack) || error}\n`);
    process.exit(1);
});
