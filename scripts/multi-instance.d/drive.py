#!/usr/bin/env python3
"""The driver of scripts/multi-instance (read that script's header first).

Started by scripts/multi-instance with PostgreSQL already running and an
empty database; starts everything else itself: the SMTP sink, the two
instances, the balancer. Prints a summary and exits 1 when a target fails.
Standard library only, plus prometheus_client (from the venv the wrapper
makes) for the /metrics check.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PASSWORD = "correct horse battery staple"
RED_SUBJECTS = (
    "needlewise: a patient has a warning sign to review",
    "needlewise: a warning sign is still waiting for someone",
)
CALM = {
    "redness": "none", "swelling": False, "pus_or_spreading_warmth": False, "fever": False,
    "blisters": False, "new_bumps": False, "track_marks": False, "darker_patches": False,
    "numbness": False, "allergic_reaction": False, "anaesthetic_toxicity": False,
    "feeling_unwell": False, "widespread_rash": False, "blood_exposure_shared_device": False,
}
RED = dict(CALM, pus_or_spreading_warmth=True)


def log(msg):
    print(f"multi-instance: {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# ------------------------------------------------------------------ HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode("utf-8", "replace")


def request(port, method, path, cookie=None, form=None, body=None, csrf=None, timeout=30):
    """One request on a fresh connection (the balancer balances connections)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Connection": "close"}
    data = None
    if cookie:
        headers["Cookie"] = cookie
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    if csrf and form is None:
        headers["x-csrf-token"] = csrf
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        payload = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)
    finally:
        conn.close()


CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


class Person:
    """A logged-in account: its session cookie and CSRF token, usable on
    any instance (sessions live in the shared store)."""

    def __init__(self, email):
        self.email = email
        self.cookie = None
        self.csrf = None
        self.profile = None

    def adopt(self, r):
        cookie = r.header("set-cookie")
        if not cookie:
            raise SystemExit(f"no session cookie for {self.email}: {r.status} {r.text()[:300]}")
        self.cookie = cookie.split(";")[0]

    def sign_up(self, port):
        r = request(port, "POST", "/signup", form={"email": self.email, "password": PASSWORD})
        if r.status != 303:
            raise SystemExit(f"sign-up of {self.email} answered {r.status}: {r.text()[:300]}")
        self.adopt(r)
        self.refresh_csrf(port, "/profiles")

    def refresh_csrf(self, port, page):
        r = request(port, "GET", page, cookie=self.cookie)
        m = CSRF.search(r.text())
        if r.status != 200 or not m:
            raise SystemExit(f"{page} for {self.email} answered {r.status} without a CSRF token")
        self.csrf = m.group(1)

    def form(self, port, path, fields):
        return request(port, "POST", path, cookie=self.cookie, form=dict(fields, csrf=self.csrf))

    def api(self, port, method, path, body=None):
        return request(port, method, path, cookie=self.cookie, body=body if body is not None else ({} if method == "POST" else None), csrf=self.csrf)


def expect(r, status, what):
    if r.status != status:
        raise SystemExit(f"{what}: expected {status}, got {r.status}: {r.text()[:400]}")
    return r


# ------------------------------------------------------------------ TOTP


def totp(secret_b32, at):
    key = base64.b32decode(secret_b32.replace(" ", "").upper() + "=" * (-len(secret_b32.replace(" ", "")) % 8))
    counter = struct.pack(">Q", int(at // 30))
    h = hmac.new(key, counter, hashlib.sha1).digest()
    o = h[-1] & 0x0F
    code = (struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


# ------------------------------------------------------------------ the store


class Db:
    def __init__(self, url):
        self.url = url

    def rows(self, sql):
        out = subprocess.run(
            ["psql", "-X", "-q", "-At", "-F", "\t", self.url, "-c", sql],
            check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def one(self, sql):
        rows = self.rows(sql)
        return rows[0][0] if rows else None


# ------------------------------------------------------------------ processes


class Instance:
    """One `needlewise serve`, killed and restarted at will."""

    def __init__(self, name, args, workdir, db_url, smtp_port, log_format):
        self.name = name
        self.bin = args.bin
        self.port = free_port()
        self.metrics_port = free_port()
        self.workdir = workdir
        self.db_url = db_url
        self.log_path = os.path.join(workdir, f"instance-{name}.log")
        self.data_dir = os.path.join(workdir, f"data-{name}")
        os.makedirs(self.data_dir, exist_ok=True)
        self.config = os.path.join(workdir, f"instance-{name}.toml")
        with open(self.config, "w") as f:
            f.write(
                f'listen = "127.0.0.1:{self.port}"\n'
                f"escalation_tick_seconds = 1\n"
                f"signups_per_hour = 10000\n"
                f"login_attempts_per_minute = 1000\n"
                f'smtp_url = "smtp://127.0.0.1:{smtp_port}"\n'
                f'mail_from = "needlewise <needlewise@multi-instance.test>"\n'
                f'log_format = "{log_format}"\n'
                f'metrics_listen = "127.0.0.1:{self.metrics_port}"\n')
        self.log_format = log_format
        self.proc = None
        self.starts = 0
        self.crashes = 0

    def start(self, extra_global=(), extra_serve=()):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEEDLEWISE_")}
        env["RUST_LOG"] = "info"
        env["NEEDLEWISE_DATABASE_URL"] = self.db_url
        logf = open(self.log_path, "a")
        logf.write(f"=== multi-instance: start {self.starts + 1} at {time.time():.6f}\n")
        logf.flush()
        self.proc = subprocess.Popen(
            [self.bin, "--data-dir", self.data_dir, *extra_global, "serve", "--config", self.config, *extra_serve],
            stdout=logf, stderr=logf, env=env)
        logf.close()
        self.starts += 1

    def wait_up(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                if request(self.port, "GET", "/healthz", timeout=2).status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def ensure_up(self):
        """Starts it again until it answers (a restart right after a kill
        may find its port still held for a moment)."""
        for _ in range(20):
            if self.proc is not None and self.proc.poll() is None and self.wait_up(15):
                return
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            time.sleep(0.2)
            self.start()
        raise SystemExit(f"instance {self.name} does not come up; see {self.log_path}")

    def crash(self):
        """kill -9, as a machine losing power would."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.crashes += 1
            return True
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Helper:
    """A Python helper process (the SMTP sink, the balancer)."""

    def __init__(self, name, argv, port, workdir):
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc = None

    def start(self):
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, *self.argv], stdout=logf, stderr=logf)
        logf.close()
        if not wait_port(self.port, 10, self.proc):
            raise SystemExit(f"{self.name} did not start; see {self.log_path}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


# ------------------------------------------------------------------ the run


class Run:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = args.workdir
        self.db = Db(args.database_url)
        self.sink_file = os.path.join(self.workdir, "smtp-sink.jsonl")
        open(self.sink_file, "w").close()
        smtp_port = free_port()
        self.sink = Helper("smtp-sink", [os.path.join(HERE, "smtp_sink.py"), "--port", str(smtp_port),
                                         "--out", self.sink_file], smtp_port, self.workdir)
        self.a = Instance("a", args, self.workdir, args.database_url, smtp_port, "plain")
        self.b = Instance("b", args, self.workdir, args.database_url, smtp_port, "json")
        self.instances = [self.a, self.b]
        lb_port = free_port()
        self.lb = Helper("balancer", [os.path.join(HERE, "balancer.py"), "--port", str(lb_port),
                                      "--backend", f"127.0.0.1:{self.a.port}",
                                      "--backend", f"127.0.0.1:{self.b.port}"], lb_port, self.workdir)
        self.results = []  # (target, ok, figure)
        self.request_ids = []  # (instance, id, status) seen on direct requests
        self.checkin_retries = 0
        self.checkin_errors = 0
        self.crash_log = []

    def target(self, name, ok, figure):
        self.results.append((name, ok, figure))
        log(f"{'ok  ' if ok else 'FAIL'} {name}: {figure}")

    def stop_all(self):
        for p in (self.lb, self.a, self.b, self.sink):
            p.stop()

    # -------------------------------------------------------------- setup

    def setup(self):
        """The clinic, its team and 20 patients, made through the web on
        instance A running a day in the past with the test clock, so that
        each patient can clean a roller (40 minutes of soaking and drying)
        and log a session for the check-ins to be about."""
        n = self.args.patients
        past = datetime.now(timezone.utc) - timedelta(hours=26)
        self.sink.start()
        a = self.a
        a.start(extra_global=["--now", past.strftime("%Y-%m-%dT%H:%M:%SZ")], extra_serve=["--test-clock"])
        if not a.wait_up(60):
            raise SystemExit(f"the setup instance did not start; see {a.log_path}")
        port = a.port
        tag = f"{os.getpid()}-{int(time.time())}"

        def server_time():
            r = expect(request(port, "POST", "/__test/clock/advance?minutes=0"), 200, "the test clock")
            text = r.text().strip()
            whole = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", text).group(1)
            return datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()

        # The clinician: the clinic's sign-up, then the second factor.
        doc = Person(f"dr-{tag}@clinic.test")
        r = request(port, "POST", "/clinic/signup", form={
            "email": doc.email, "password": PASSWORD, "your_name": "Dr Multi",
            "clinic_name": "Multi-instance clinic", "time_zone": "UTC"})
        expect(r, 303, "the clinic's sign-up")
        doc.adopt(r)
        r = expect(request(port, "GET", "/mfa?next=%2Fclinic", cookie=doc.cookie), 200, "the second-factor page")
        secret = re.search(r'id="secret"[^>]*>\s*([A-Z2-7 ]+?)\s*<', r.text()).group(1)
        doc.csrf = CSRF.search(r.text()).group(1)
        r = doc.form(port, "/mfa", {"next": "/clinic", "code": totp(secret, server_time())})
        expect(r, 303, "turning the second factor on")
        doc.refresh_csrf(port, "/clinic")

        # Staff, invited by the clinician.
        staff = Person(f"staff-{tag}@clinic.test")
        r = expect(doc.form(port, "/clinic/members", {"email": staff.email, "role": "staff",
                                                      "display_name": "Sam Staff"}), 200, "inviting staff")
        join = re.search(r"/clinic/join/[0-9a-f]{64}", r.text()).group(0)
        staff.sign_up(port)
        expect(staff.form(port, join, {}), 303, "staff accepting the invitation")

        # A short ladder: the clinician at once, staff after step1 seconds.
        hours = self.args.step1_seconds / 3600
        r = doc.form(port, "/clinic/settings", {"after_0": "0", "notify_0": "role:clinician",
                                                "after_1": f"{hours:.6f}", "notify_1": "role:staff"})
        expect(r, 303, "setting the ladder")

        with open(os.path.join(ROOT, "docs", "answers.example.json")) as f:
            answers = json.load(f)
        patients = []
        devices = []
        for i in range(n):
            p = Person(f"patient{i}-{tag}@example.test")
            p.sign_up(port)
            expect(p.api(port, "POST", "/api/screening", answers), 200, "a screening")
            r = expect(doc.form(port, "/clinic/invites", {"label": f"Patient {i}", "days": "7"}), 200, "an invite")
            code = re.search(r"/join/([0-9a-f]{64})", r.text()).group(0)
            expect(p.form(port, code, {"scope": ["screening", "sessions", "checkins"]}), 303, "joining the clinic")
            r = expect(p.api(port, "POST", "/api/devices", {"name": "Home roller", "needle_mm": 0.25}), 201, "a roller")
            devices.append(r.json()["device"]["id"])
            patients.append(p)
        step = lambda p, d, action, body=None: expect(  # noqa: E731
            p.api(port, "POST", f"/api/devices/{d}/{action}", body or {}), 200, f"roller step {action}")
        for p, d in zip(patients, devices):
            step(p, d, "rinse")
            step(p, d, "soak", {"alcohol_percent": 70})
        expect(request(port, "POST", "/__test/clock/advance?minutes=11"), 200, "the test clock")
        for p, d in zip(patients, devices):
            step(p, d, "dry")
        expect(request(port, "POST", "/__test/clock/advance?minutes=31"), 200, "the test clock")
        ready = {
            "skin_cleansed": True, "device_damaged": False, "cold_sore_now": False,
            "active_problem_zones": [], "sunburn_or_tan": False, "actives_recently": False,
            "waxed_zones": [], "procedures_since": [], "new_medication": False,
            "pregnant_now": False, "feeling_unwell": False,
        }
        for p, d in zip(patients, devices):
            step(p, d, "ready")
            expect(p.api(port, "POST", "/api/readiness", {"device": d, "answers": ready}), 200, "readiness")
            expect(p.api(port, "POST", "/api/sessions", {"device": d, "zones": [{"zone": "forehead"}]}), 201, "a session")

        # The owner of the rollers of the clock test.
        owner = Person(f"rollers-{tag}@example.test")
        owner.sign_up(port)
        expect(owner.api(port, "POST", "/api/screening", answers), 200, "a screening")

        a.stop()
        self.doc, self.staff, self.patients, self.owner = doc, staff, patients, owner
        ids = dict(self.db.rows(
            f"SELECT email, id FROM accounts WHERE email IN ('{doc.email}', '{staff.email}')"))
        self.doc_id, self.staff_id = ids[doc.email], ids[staff.email]
        self.owner_profile = self.db.one(
            f"SELECT p.id FROM profiles p JOIN accounts a ON a.id = p.account_id WHERE a.email = '{owner.email}'")
        members = self.db.one(
            "SELECT count(*) FROM clinic_members m JOIN clinics c ON c.id = m.clinic_id "
            "WHERE c.name = 'Multi-instance clinic'")
        consents = self.db.one("SELECT count(DISTINCT profile_id) FROM consents WHERE scope = 'checkins'")
        log(f"set up: a clinic with {members} members (clinician, staff), {len(patients)} patients "
            f"sharing check-ins ({consents} consents), each with a session a day ago")

    # -------------------------------------------------------------- the cluster

    def start_cluster(self):
        for inst in self.instances:
            inst.start()
        for inst in self.instances:
            inst.ensure_up()
        self.lb.start()
        log(f"serving: A on :{self.a.port} (plain logs), B on :{self.b.port} (JSON logs), "
            f"balancer on :{self.lb.port}, SMTP sink on :{self.sink.port}")

    def direct(self, inst, person, method, path, body=None):
        r = person.api(inst.port, method, path, body)
        rid = r.header("x-request-id")
        if rid:
            self.request_ids.append((inst.name, rid, r.status))
        return r

    # -------------------------------------------------------------- 4 and 5: clocks, rollers

    def clocks_and_rollers(self):
        rows = []
        ok_steps = 0
        for i in range(20):
            t0 = time.time()
            r = self.direct(self.a, self.owner, "POST", "/api/devices", {"name": f"Clock roller {i}", "needle_mm": 0.25})
            t1 = time.time()
            if r.status != 201:
                log(f"adding roller {i} on A answered {r.status}: {r.text()[:200]}")
                continue
            dev = r.json()["device"]["id"]
            t2 = time.time()
            r = self.direct(self.b, self.owner, "POST", f"/api/devices/{dev}/rinse", {})
            t3 = time.time()
            if r.status == 200:
                ok_steps += 1
            else:
                log(f"rinsing roller {i} on B answered {r.status}: {r.text()[:200]}")
            rows.append((dev, t0, t1, t2, t3))
        self.target("a roller added on A is rinsed at once on B", ok_steps == 20, f"{ok_steps}/20")

        stamps = {d: (float(c), float(h) if h else None) for d, c, h in self.db.rows(
            "SELECT d.id, extract(epoch FROM d.created_at), "
            "(SELECT extract(epoch FROM max(h.at)) FROM hygiene_events h "
            " WHERE h.profile_id = d.profile_id AND h.device_id = d.id) "
            f"FROM devices d WHERE d.profile_id = '{self.owner_profile}'")}
        # Each instance's clock minus the script's lies in [stamp - received,
        # stamp - sent] for every request; intersect over the 20.
        slack = 2e-6  # the store keeps microseconds
        lo_a, hi_a, lo_b, hi_b = -1e9, 1e9, -1e9, 1e9
        for dev, t0, t1, t2, t3 in rows:
            created, rinsed = stamps.get(dev, (None, None))
            if created is not None:
                lo_a, hi_a = max(lo_a, created - t1 - slack), min(hi_a, created - t0 + slack)
            if rinsed is not None:
                lo_b, hi_b = max(lo_b, rinsed - t3 - slack), min(hi_b, rinsed - t2 + slack)
        if lo_a > hi_a or lo_b > hi_b or not rows:
            self.target("the instances' clocks agree within 5 ms", False,
                        f"inconsistent stamps: A in [{lo_a * 1e3:.3f}, {hi_a * 1e3:.3f}] ms, "
                        f"B in [{lo_b * 1e3:.3f}, {hi_b * 1e3:.3f}] ms")
            return
        bound = max(abs(hi_a - lo_b), abs(hi_b - lo_a))
        self.clock_figures = (lo_a, hi_a, lo_b, hi_b, bound)
        self.target("the instances' clocks agree within 5 ms", bound <= 0.005,
                    f"|A - B| <= {bound * 1e3:.3f} ms (A - script in [{lo_a * 1e3:.3f}, {hi_a * 1e3:.3f}] ms, "
                    f"B - script in [{lo_b * 1e3:.3f}, {hi_b * 1e3:.3f}] ms, from 20 rows each)")

    # -------------------------------------------------------------- 2 and 3: red flags under crashes

    def checkin(self, p, out):
        for attempt in range(60):
            try:
                r = p.api(self.lb.port, "POST", "/api/checkins", RED)
                if r.status == 200:
                    out.append(r.json().get("locks_sessions"))
                    return
                if r.status != 502:
                    log(f"a red-flag check-in answered {r.status}: {r.text()[:200]}")
                    self.checkin_errors += 1
                    return
            except (OSError, http.client.HTTPException):
                pass
            # No answer (the instance died): the patient tries again. If the
            # first one was stored, this one opens a second red flag, which
            # the counts below include.
            self.checkin_retries += 1
            time.sleep(0.1)
        self.checkin_errors += 1

    def resolve_open_flags(self):
        for _ in range(20):
            inst = next((i for i in self.instances if i.proc.poll() is None), None)
            try:
                r = self.doc.api(inst.port, "GET", "/api/clinic/red-flags")
                flags = r.json()
                for f in flags:
                    rr = self.doc.api(inst.port, "POST",
                                      f"/api/clinic/red-flags/{f['profile_id']}/{f['episode']['id']}/resolve",
                                      {"note": "Seen in clinic (multi-instance test)."})
                    if rr.status != 204:
                        raise OSError(f"resolve answered {rr.status}: {rr.text()[:200]}")
                if not flags:
                    return
            except (OSError, http.client.HTTPException, ValueError) as e:
                log(f"resolving: {e}; again")
                time.sleep(0.5)
        raise SystemExit("could not resolve the open red flags")

    def wait_escalated(self, since, timeout):
        """Until every red flag opened since `since` has both ladder steps
        claimed (or the timeout: what is missing then counts as lost)."""
        end = time.time() + timeout
        while True:
            episodes, claimed = self.db.rows(
                "SELECT (SELECT count(*) FROM episodes WHERE opened_at >= to_timestamp(%f)), "
                "(SELECT count(*) FROM escalations s JOIN episodes e ON e.profile_id = s.profile_id "
                " AND e.id = s.episode_id WHERE e.opened_at >= to_timestamp(%f))" % (since, since))[0]
            if int(claimed) >= 2 * int(episodes) or time.time() > end:
                return int(episodes), int(claimed)
            time.sleep(0.25)

    def rounds(self):
        for rnd in range(1, self.args.rounds + 1):
            started = time.time()
            locks = []
            threads = [threading.Thread(target=self.checkin, args=(p, locks)) for p in self.patients]
            moments = sorted([self.rng.uniform(0, 0.3)] +
                             [self.rng.uniform(0.3, self.args.window) for _ in range(self.args.kills_per_round - 1)])
            for t in threads:
                t.start()
            for m in moments:
                delay = started + m - time.time()
                if delay > 0:
                    time.sleep(delay)
                victim = self.rng.choice(self.instances)
                if victim.crash():
                    self.crash_log.append((rnd, victim.name, round(m * 1000)))
                victim.start()
            for t in threads:
                t.join()
            for inst in self.instances:
                inst.ensure_up()
            episodes, claimed = self.wait_escalated(started, 90)
            log(f"round {rnd}: {len(locks)}/{len(self.patients)} red-flag check-ins answered, "
                f"{episodes} red flags, {claimed}/{2 * episodes} ladder steps claimed, crashes at "
                + ", ".join(f"{n.upper()}+{ms}ms" for r, n, ms in self.crash_log if r == rnd))
            self.resolve_open_flags()

    # -------------------------------------------------------------- 6: a mail outage

    def mail_outage(self):
        """The SMTP sink goes away while red flags come in: every failed
        delivery must be logged with its cause, and retried later."""
        self.sink.stop()
        started = time.time()
        for p in self.patients[:3]:
            self.checkin(p, [])
        episodes, claimed = self.wait_escalated(started, 60)
        time.sleep(2)
        failed = int(self.db.one("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL AND last_error <> ''"))
        log(f"mail outage: {episodes} red flags, {claimed} steps claimed, {failed} emails failed so far")
        self.sink.start()
        self.resolve_open_flags()

    def drain(self, timeout):
        end = time.time() + timeout
        while True:
            waiting = int(self.db.one("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL AND attempts < 5"))
            if waiting == 0 or time.time() > end:
                return waiting
            time.sleep(0.5)

    # -------------------------------------------------------------- counting

    def count(self, since):
        episodes = int(self.db.one(f"SELECT count(*) FROM episodes WHERE opened_at >= to_timestamp({since})"))
        steps = int(self.db.one(
            "SELECT count(*) FROM escalations s JOIN episodes e ON e.profile_id = s.profile_id "
            f"AND e.id = s.episode_id WHERE e.opened_at >= to_timestamp({since})"))
        # In-app: the clinician hears of each red flag (step 1), staff of
        # each that waited step1 seconds (step 2).
        notes = {}
        for who, acct, kind in (("clinician", self.doc_id, "red_flag"), ("staff", self.staff_id, "escalation")):
            notes[who] = int(self.db.one(
                f"SELECT count(*) FROM notifications WHERE account_id = '{acct}' AND kind = '{kind}' "
                f"AND created_at >= to_timestamp({since})"))
        expected_notes = 2 * episodes
        delivered_notes = sum(min(n, episodes) for n in notes.values())
        dup_notes = sum(max(0, n - episodes) for n in notes.values())
        lost_notes = expected_notes - delivered_notes

        outbox = self.db.rows(
            "SELECT id, recipient, subject, sent_at IS NOT NULL, attempts, last_error FROM email_outbox "
            f"WHERE created_at >= to_timestamp({since}) AND subject IN ('{RED_SUBJECTS[0]}', '{RED_SUBJECTS[1]}')")
        rows = {r[0]: r for r in outbox}
        expected_emails = 2 * episodes
        per_recipient = {}
        for r in outbox:
            per_recipient[(r[1], r[2])] = per_recipient.get((r[1], r[2]), 0) + 1
        extra_rows = sum(max(0, c - episodes) for c in per_recipient.values())
        received = []
        with open(self.sink_file) as f:
            for line in f:
                m = json.loads(line)
                if m["subject"] in RED_SUBJECTS:
                    received.append(m)
        by_id = {}
        unknown = 0
        for m in received:
            mm = re.match(r"^<([0-9a-f-]{36})\.outbox@", m["message_id"])
            if not mm or mm.group(1) not in rows:
                unknown += 1
                continue
            by_id.setdefault(mm.group(1), []).append(m)
        delivered_emails = min(len(by_id), expected_emails)
        repeats = sum(len(v) - 1 for v in by_id.values())
        # A repeat with the same Message-ID is the documented at-least-once
        # case; a second outbox row for the same step (extra_rows) or a
        # message whose Message-ID is no outbox row's would not be.
        dup_other = extra_rows + unknown
        lost_emails = expected_emails - delivered_emails
        unsent = sum(1 for r in outbox if r[3] == "f")
        return {
            "episodes": episodes, "steps": steps,
            "notes": (expected_notes, delivered_notes, lost_notes, dup_notes, notes),
            "emails": (expected_emails, delivered_emails, lost_emails, repeats, dup_other, unsent,
                       len(received), len(outbox)),
            "retried_rows": sum(1 for r in outbox if int(r[4]) > 1),
        }

    # -------------------------------------------------------------- 6: logs and metrics

    def check_logs(self):
        lines = {}
        for inst in self.instances:
            with open(inst.log_path, errors="replace") as f:
                lines[inst.name] = f.read().splitlines()
        found = {}  # (instance, id) -> (status, latency)
        request_lines = 0
        incomplete = []
        plain = re.compile(r"request\{id=([0-9a-f]{32})\}.*\brequest(?: failed)?\b.*\bstatus=(\d{3})\b.*\blatency_ms=([0-9.]+)")
        for line in lines["a"]:
            if "request{id=" in line and ("route=" in line):
                m = plain.search(line)
                request_lines += 1
                if not m:
                    incomplete.append(line)
                    continue
                found[("a", m.group(1))] = (int(m.group(2)), float(m.group(3)))
        for line in lines["b"]:
            if not line.startswith("{"):
                continue
            try:
                j = json.loads(line)
            except ValueError:
                incomplete.append(line)
                continue
            # flatten_event: the event's fields sit at the top level.
            fields = j if "message" in j else j.get("fields", {})
            if fields.get("message") not in ("request", "request failed"):
                continue
            request_lines += 1
            span = j.get("span") or {}
            rid = span.get("id")
            if not rid or "status" not in fields or "latency_ms" not in fields:
                incomplete.append(line)
                continue
            found[("b", rid)] = (int(fields["status"]), float(fields["latency_ms"]))
        missing = [(n, rid, st) for n, rid, st in self.request_ids if found.get((n, rid), (None,))[0] != st]
        self.target("each request is logged with its id, status and latency",
                    not incomplete and not missing and request_lines > 0,
                    f"{request_lines} request lines (A plain, B JSON), {len(incomplete)} without id/status/latency; "
                    f"{len(self.request_ids) - len(missing)}/{len(self.request_ids)} x-request-ids of direct requests "
                    f"found with the same status")
        for line in incomplete[:3]:
            log(f"  incomplete: {line[:300]}")
        for n, rid, st in missing[:3]:
            log(f"  not in {n}'s log: {rid} ({st})")

        failures = []
        for name, ls in lines.items():
            for line in ls:
                if "an email could not be sent" in line:
                    failures.append((name, line))
        with_cause = [l for _, l in failures if re.search(r"error[=\"':]+\s*\"?the SMTP server refused or could not be reached: \S", l)]
        self.failure_lines = len(failures)
        failed_rows = int(self.db.one("SELECT count(*) FROM email_outbox WHERE attempts > 1 OR last_error <> ''"))
        self.target("every failed delivery is logged with its cause",
                    len(failures) > 0 and len(with_cause) == len(failures),
                    f"{len(failures)} failure lines, {len(with_cause)} with the SMTP error; "
                    f"{failed_rows} outbox rows needed more than one attempt")
        if failures:
            log(f"  e.g. {failures[0][1][:260]}")

    def check_metrics(self):
        from prometheus_client.parser import text_string_to_metric_families
        wanted = {"needlewise_http_requests", "needlewise_http_request_duration_seconds",
                  "needlewise_outbox_depth", "needlewise_escalation_lag_seconds",
                  "needlewise_email_deliveries_failed"}
        figures = []
        ok = True
        failed_total = 0.0
        for inst in self.instances:
            try:
                r = request(inst.metrics_port, "GET", "/metrics")
                families = {f.name: f for f in text_string_to_metric_families(r.text())}
            except Exception as e:  # noqa: BLE001 - any parse error fails the target
                ok = False
                figures.append(f"{inst.name.upper()}: {e}")
                continue
            missing = wanted - set(families)
            samples = sum(len(f.samples) for f in families.values())
            failed_total += sum(s.value for s in families.get("needlewise_email_deliveries_failed", type("", (), {"samples": []})).samples
                                if s.name.endswith("_total"))
            ok = ok and r.status == 200 and not missing
            figures.append(f"{inst.name.upper()}: {len(families)} families, {samples} samples"
                           + (f", missing {sorted(missing)}" if missing else ""))
        from importlib.metadata import version
        self.target(f"/metrics parses with prometheus_client {version('prometheus-client')}",
                    ok, "; ".join(figures) + f"; deliveries failed (counters) {failed_total:.0f}")
        # No instance restarts after the mail outage, so the counters hold
        # every failure the logs show.
        lines = getattr(self, "failure_lines", None)
        self.target("/metrics counts every failed delivery", lines is not None and failed_total == lines,
                    f"needlewise_email_deliveries_failed_total {failed_total:.0f} (A + B), "
                    f"{lines} failure lines in the logs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--kills-per-round", type=int, default=4)
    ap.add_argument("--window", type=float, default=6.0, help="seconds after a burst in which kills fall")
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--step1-seconds", type=float, default=3.6)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    started = time.time()
    run = Run(args)
    log(f"seed {args.seed} (--seed {args.seed} replays the same kill schedule)")
    c = None
    aborted = None
    try:
        run.setup()
        run.start_cluster()
        test_start = time.time()
        run.clocks_and_rollers()
        run.rounds()
        crashes = sum(i.crashes for i in run.instances)
        run.target("at least 20 instances killed (-9) during escalation", crashes >= 20,
                   f"{crashes} (A {run.a.crashes}, B {run.b.crashes})")
        run.mail_outage()
        waiting = run.drain(150)
        log(f"outbox drained: {waiting} emails still waiting")
        c = run.count(test_start)
        exp_n, got_n, lost_n, dup_n, per = c["notes"]
        exp_e, got_e, lost_e, rep_e, dup_other, unsent, received, rows = c["emails"]
        run.target("no notification lost", lost_n == 0 and c["steps"] == 2 * c["episodes"],
                   f"expected {exp_n}, delivered {got_n}, lost {lost_n}, duplicated {dup_n}")
        run.target("no notification duplicated", dup_n == 0, f"{dup_n}")
        run.target("no email lost", lost_e == 0, f"expected {exp_e}, delivered {got_e}, lost {lost_e}")
        run.target("every duplicate email carries the same Message-ID", dup_other == 0,
                   f"{rep_e} repeats with the same Message-ID, {dup_other} without")
        run.check_logs()
        run.check_metrics()
    except (Exception, SystemExit) as e:  # noqa: BLE001 - reported below
        import traceback
        traceback.print_exc()
        aborted = str(e) or type(e).__name__
    finally:
        run.stop_all()
    elapsed = time.time() - started
    if aborted:
        run.results.append(("the run finished", False, f"aborted: {aborted}"))
    failed = [r for r in run.results if not r[1]]
    crashes = sum(i.crashes for i in run.instances)
    print()
    print("=" * 72)
    print(f"multi-instance summary (seed {args.seed}, {elapsed:.0f} s)")
    print(f"  instances: 2 x needlewise serve on one PostgreSQL database, round-robin balancer")
    print(f"  crashes: {crashes} kill -9 (A {run.a.crashes}, B {run.b.crashes}); "
          f"check-ins retried after a dead connection {run.checkin_retries}, failed {run.checkin_errors}")
    if c is not None:
        exp_n, got_n, lost_n, dup_n, per = c["notes"]
        exp_e, got_e, lost_e, rep_e, dup_other, unsent, received, rows = c["emails"]
        print(f"  red flags: {c['episodes']} ({args.rounds} rounds of {len(run.patients)} at once, "
              f"plus 3 during a mail outage; {c['episodes'] - args.rounds * len(run.patients) - 3} more from "
              f"check-ins retried after their first try was stored); "
              f"ladder steps claimed {c['steps']}/{2 * c['episodes']}")
        print(f"  in-app notifications: expected {exp_n}, delivered {got_n}, lost {lost_n}, duplicated {dup_n} "
              f"(clinician {per['clinician']}, staff {per['staff']})")
        print(f"  emails: expected {exp_e}, delivered {got_e}, lost {lost_e}, duplicated {rep_e + dup_other} "
              f"({rep_e} with the same Message-ID, {dup_other} without); "
              f"{received} messages at the sink, {rows} outbox rows, {unsent} unsent, "
              f"{c['retried_rows']} needed a retry")
    if hasattr(run, "clock_figures"):
        lo_a, hi_a, lo_b, hi_b, bound = run.clock_figures
        print(f"  clocks: |A - B| <= {bound * 1e3:.3f} ms")
    for name, ok, figure in run.results:
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {figure}")
    print(f"  logs and data: {run.workdir}")
    print("=" * 72)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
