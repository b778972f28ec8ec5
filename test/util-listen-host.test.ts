// Where dashboard and serve listen: loopback names, the Host headers a loopback server accepts
// (DNS-rebinding guard), and the one-line warning for anything else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exposureWarning, isLoopbackHost, loopbackHostNames } from "../src/util/listen-host.js";

test("loopback hosts: 127.0.0.0/8, ::1 and localhost; nothing else", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
    assert.ok(isLoopbackHost(host), host);
  for (const host of ["0.0.0.0", "::", "192.168.1.5", "localhost.evil.com", "127.0.0.1.nip.io", ""])
    assert.equal(isLoopbackHost(host), false, host);
});

test("a loopback server answers the loopback Host names and its own; another host has no such list", () => {
  const names = loopbackHostNames("127.0.0.2");
  assert.ok(names !== null);
  for (const name of ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"]) assert.ok(names.has(name), name);
  assert.equal(names.has("attacker.example"), false);
  assert.equal(loopbackHostNames("0.0.0.0"), null);
});

test("the warning names the command and what anyone can do; none on loopback", () => {
  assert.equal(exposureWarning("serve", "127.0.0.1", "can use the model"), null);
  assert.equal(
    exposureWarning("serve", "0.0.0.0", "can use the model (there is no authentication)"),
    "serve: warning: listening on every network interface: anyone who can reach this port can use the model (there is no authentication)",
  );
  assert.equal(
    exposureWarning("dashboard", "10.0.0.7", "can read these runs"),
    "dashboard: warning: listening on 10.0.0.7: anyone who can reach this port can read these runs",
  );
});
