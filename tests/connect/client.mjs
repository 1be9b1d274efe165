// Real Connect, gRPC-Web and gRPC clients (connect-es: @connectrpc/connect-node)
// against the gateway, with the service loaded from a descriptor set at run
// time, as an app that only has the gateway's URL and the descriptors would.
//
//   node client.mjs <base-url> <descriptor-set.bin>
//
// Prints one "ok <transport> <check>" line per check that passed and
// "FAIL <transport> <check>: <why>" per failure; exits 1 if any failed.
// tests/e2e/connect.rs runs it and asserts every expected "ok" line.
import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const [baseUrl, descriptors] = process.argv.slice(2);
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(descriptors)),
);
const Echo = registry.getService("switchboard.testing.v1.Echo");
const ErrorDetail = registry.getMessage("switchboard.testing.v1.ErrorDetail");

let failed = 0;
async function check(transport, name, fn) {
  try {
    await fn();
    console.log(`ok ${transport} ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${transport} ${name}: ${e?.stack ?? e}`);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(`expected ${what}`);
}

function same(a, b, what) {
  const show = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
  if (show(a) !== show(b)) throw new Error(`${what}: got ${show(a)}, want ${show(b)}`);
}

async function* messages(...items) {
  for (const item of items) yield item;
}

// Every transport under test; `streams` says which request-streaming shapes it has.
const transports = {
  "connect-json-h2": {
    t: createConnectTransport({ baseUrl, httpVersion: "2" }),
    clientStream: true,
    bidi: true,
  },
  "connect-proto-h2": {
    t: createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
    clientStream: true,
    bidi: true,
  },
  "connect-json-h1": {
    t: createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  },
  "grpc-web-h1": {
    t: createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  },
  "grpc-h2": {
    t: createGrpcTransport({ baseUrl }),
    clientStream: true,
    bidi: true,
  },
};

const full = {
  stringValue: "héllo",
  int32Value: -7,
  int64Value: 9007199254740993n,
  uint64Value: 18446744073709551615n,
  boolValue: true,
  doubleValue: 1.5,
  bytesValue: new Uint8Array([0, 1, 2, 250]),
  color: 2,
  nested: { label: "n", value: 3 },
  repeatedString: ["a", "b"],
  stringMap: { k: "v" },
  nestedList: [{ label: "x", value: 1 }],
  optionalInt32: 0,
  choice: { case: "choiceNumber", value: 42 },
};

for (const [name, { t, clientStream, bidi }] of Object.entries(transports)) {
  const client = createClient(Echo, t);

  await check(name, "unary", async () => {
    let header, trailer;
    const res = await client.echo(full, {
      headers: { "x-test-header": "hello", "x-test-bin": "AAEC" },
      onHeader: (h) => (header = h),
      onTrailer: (h) => (trailer = h),
    });
    const r = res.request;
    same(r.stringValue, full.stringValue, "string");
    same(r.int32Value, full.int32Value, "int32");
    same(r.int64Value, full.int64Value, "int64");
    same(r.uint64Value, full.uint64Value, "uint64");
    same(r.boolValue, true, "bool");
    same(r.doubleValue, 1.5, "double");
    same([...r.bytesValue], [...full.bytesValue], "bytes");
    same(r.color, 2, "enum");
    same(r.nested, { $typeName: "switchboard.testing.v1.Nested", label: "n", value: 3 }, "nested");
    same(r.repeatedString, ["a", "b"], "repeated");
    same(r.stringMap, { k: "v" }, "map");
    same(r.nestedList.length, 1, "nested list");
    same(r.optionalInt32, 0, "optional (present, zero)");
    same(r.choice, { case: "choiceNumber", value: 42 }, "oneof");
    same(res.metadata["x-test-header"], "hello", "request header as metadata");
    expect(header?.get("x-echo") === "1", "response header x-echo: 1");
    expect(trailer?.get("x-echo-trailer") === "1", "trailer x-echo-trailer: 1");
  });

  await check(name, "server-stream", async () => {
    const got = [];
    for await (const m of client.echoStream({ request: { stringValue: "s" }, count: 3 })) {
      got.push(m.request.stringValue);
    }
    same(got, ["s", "s", "s"], "three messages");
  });

  await check(name, "server-stream-error", async () => {
    const got = [];
    try {
      for await (const m of client.echoStream({
        request: { stringValue: "e" },
        count: 2,
        failCode: 9,
        failMessage: "stop",
      })) {
        got.push(m.request.stringValue);
      }
      throw new Error("stream did not fail");
    } catch (e) {
      const err = ConnectError.from(e);
      same(got, ["e", "e"], "messages before the error");
      same(err.code, Code.FailedPrecondition, "code");
      same(err.rawMessage, "stop", "message");
    }
  });

  if (clientStream) {
    await check(name, "client-stream", async () => {
      const res = await client.collect(
        messages({ stringValue: "a" }, { stringValue: "b" }, { stringValue: "c" }),
      );
      same(res.count, 3, "count");
      same(res.stringValues, ["a", "b", "c"], "values");
    });
  }

  if (bidi) {
    await check(name, "bidi", async () => {
      // Full duplex: each answer is read before the next request is sent.
      const queue = [];
      let wake;
      const requests = (async function* () {
        for (const v of ["x", "y", "z"]) {
          yield { stringValue: v };
          await new Promise((r) => (wake = r));
        }
      })();
      for await (const m of client.chat(requests)) {
        queue.push(m.request.stringValue);
        wake?.();
      }
      same(queue, ["x", "y", "z"], "echoes");
    });
  }

  await check(name, "error-details", async () => {
    try {
      await client.echo({ failCode: 5, failMessage: "no such thing" });
      throw new Error("call did not fail");
    } catch (e) {
      const err = ConnectError.from(e);
      same(err.code, Code.NotFound, "code");
      same(err.rawMessage, "no such thing", "message");
      const details = err.findDetails(ErrorDetail);
      same(details.length, 1, "one ErrorDetail");
      same(details[0].reason, "REQUESTED_FAILURE", "reason");
      same(details[0].field, "fail_code", "field");
      expect(err.metadata.get("x-echo-trailer") === "1", "error metadata x-echo-trailer: 1");
    }
  });

  await check(name, "timeout", async () => {
    try {
      await client.echo({ delayMs: 5000 }, { timeoutMs: 300 });
      throw new Error("call did not time out");
    } catch (e) {
      same(ConnectError.from(e).code, Code.DeadlineExceeded, "code");
    }
  });
}

// Connect only: a GET for the NO_SIDE_EFFECTS method, and gzip both ways.
{
  const t = createConnectTransport({ baseUrl, httpVersion: "1.1", useHttpGet: true });
  const client = createClient(Echo, t);
  await check("connect-get", "unary-get", async () => {
    let header;
    const res = await client.echo(
      { stringValue: "cached?", int64Value: 3n },
      { onHeader: (h) => (header = h) },
    );
    same(res.request.stringValue, "cached?", "string");
    same(res.request.int64Value, 3n, "int64");
    // Only the GET answer varies by Accept-Encoding: proof it was a GET.
    expect((header?.get("vary") ?? "").includes("accept-encoding"), "Vary: accept-encoding");
  });
}
for (const [name, binary] of [["connect-gzip-json", false], ["connect-gzip-proto", true]]) {
  const t = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: binary,
    sendCompression: compressionGzip,
    acceptCompression: [compressionGzip],
    compressMinBytes: 0,
  });
  const client = createClient(Echo, t);
  const big = "z".repeat(4000);
  await check(name, "unary-gzip", async () => {
    const res = await client.echo({ stringValue: big });
    same(res.request.stringValue.length, big.length, "echoed length");
  });
  await check(name, "stream-gzip", async () => {
    let n = 0;
    for await (const m of client.echoStream({ request: { stringValue: big }, count: 2 })) {
      same(m.request.stringValue.length, big.length, "echoed length");
      n++;
    }
    same(n, 2, "messages");
  });
  await check(name, "client-stream-gzip", async () => {
    const res = await client.collect(messages({ stringValue: big }, { stringValue: "b" }));
    same(res.count, 2, "count");
  });
}

process.exit(failed ? 1 : 0);
