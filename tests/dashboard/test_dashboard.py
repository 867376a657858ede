"""The dashboard in a real headless Chromium (Debian's, driven by Playwright).

Starts build/banditd with the HTTP endpoint on, creates a room over gRPC,
checks that the page lists it and shows its arms, sends Feedback and checks
that the page updates. Saves a screenshot to $BANDITD_TEST_OUTPUT_DIR
(default build/test-output/).
"""

import os
import pathlib
import re
import socket
import subprocess
import json
import time
import urllib.request

import grpc
import pytest
from playwright.sync_api import expect, sync_playwright

from banditd.v1 import banditd_pb2 as pb
from banditd.v1 import banditd_pb2_grpc as pb_grpc

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("BANDITD_BINARY", ROOT / "build" / "banditd"))
OUTPUT_DIR = pathlib.Path(
    os.environ.get("BANDITD_TEST_OUTPUT_DIR", ROOT / "build" / "test-output"))
CHROMIUM = os.environ.get("BANDITD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} not built (scripts/build.sh)")
    http_port = free_port()
    log_path = tmp_path / "banditd.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(BINARY), "--port=0", f"--metrics_port={http_port}",
         "--dashboard_history_interval=0.5s",
         f"--data_dir={tmp_path / 'data'}"],
        stdout=log, stderr=subprocess.STDOUT)
    grpc_port = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and grpc_port is None:
        if proc.poll() is not None:
            pytest.fail("banditd exited:\n" + log_path.read_text())
        m = re.search(r"serving on [^ ]*:(\d+)", log_path.read_text())
        if m:
            grpc_port = int(m.group(1))
        time.sleep(0.05)
    if grpc_port is None:
        proc.kill()
        pytest.fail("banditd did not start:\n" + log_path.read_text())
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    try:
        yield pb_grpc.BanditServiceStub(channel), f"http://127.0.0.1:{http_port}/"
    finally:
        channel.close()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def feedback(stub, room, arm, views, clicks):
    stub.Feedback(pb.FeedbackRequest(events=[
        pb.FeedbackEvent(room_id=room, arm_id=arm, views=views, clicks=clicks)
    ]), timeout=10)


@pytest.mark.timeout(180)
def test_dashboard_shows_room_and_updates_after_feedback(server):
    stub, url = server
    room = "dashboard-room"
    # No policy: the room gets the default, KL_UCB.
    stub.CreateRoom(pb.CreateRoomRequest(room_id=room, arm_ids=["red", "blue"]),
                    timeout=10)
    feedback(stub, room, "red", 20, 2)

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)

            # The room created above is listed; choosing it shows its arms.
            button = page.locator(f'#rooms button[data-room="{room}"]')
            expect(button).to_be_visible(timeout=10_000)
            button.click()
            expect(page.locator("#room-title")).to_have_text(room)
            red_views = page.locator('#arms tr[data-arm="red"] td.views')
            expect(red_views).to_have_text("20", timeout=10_000)
            expect(page.locator('#arms tr[data-arm="blue"] td.views')).to_have_text("0")
            expect(page.locator("#policy")).to_contain_text("policy kl_ucb")

            # Feedback shows up without a reload (the page polls every second).
            feedback(stub, room, "blue", 30, 9)
            expect(page.locator('#arms tr[data-arm="blue"] td.views')).to_have_text(
                "30", timeout=10_000)
            expect(page.locator('#arms tr[data-arm="blue"] td.ctr')).to_have_text("0.3000")
            feedback(stub, room, "red", 5, 1)
            expect(red_views).to_have_text("25", timeout=10_000)

            # Winner analysis: blue (10/31 posterior mean) leads red (4/27).
            expect(page.locator("#winner")).to_contain_text("Leader: blue",
                                                            timeout=10_000)
            blue_p = page.locator('#arms tr[data-arm="blue"] td.prob_best')
            expect(blue_p).to_have_text(re.compile(r"0\.9\d\d"))

            # Charts drew: share-over-time lines, bounds and scoring curves.
            expect(page.locator("#share-chart polyline").first).to_be_attached(
                timeout=10_000)
            assert page.locator("#bounds-chart circle").count() == 2
            assert page.locator("#curves-chart polyline").count() == 2
            assert page.locator("#cold-chart polyline").count() == 1
            assert page.locator("#hot-chart polyline").count() == 1

            # Colours follow the arms' names: "red" is red, "blue" is blue.
            expect_swatch(page, "red", "rgb(217, 48, 37)")
            expect_swatch(page, "blue", "rgb(47, 111, 219)")
            # A UCB1 room: bonus curves, no posterior or hot/cold charts.
            assert page.locator("#posterior").is_hidden()
            assert page.locator("#hotcold").is_hidden()
            assert page.locator("#curves").is_visible()

            page.screenshot(path=str(OUTPUT_DIR / "dashboard.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()


def expect_swatch(page, arm, rgb):
    # to_have_css retries: the table is redrawn every second.
    expect(page.locator(f'#arms tr[data-arm="{arm}"] .swatch')).to_have_css(
        "background-color", rgb)


PALETTE_RGB = {"blue": "rgb(47, 111, 219)", "orange": "rgb(232, 113, 10)",
               "green": "rgb(30, 142, 62)", "red": "rgb(217, 48, 37)"}


@pytest.mark.timeout(180)
def test_thompson_posteriors_palette_and_favicon(server):
    stub, url = server
    room = "dashboard-thompson"
    # Arm order a, green, b, blue: "green" and "blue" keep their colours, so
    # a and b skip them (a: orange, b: red), and no two arms share one.
    stub.CreateRoom(pb.CreateRoomRequest(
        room_id=room, arm_ids=["a", "green", "b", "blue"],
        policy=pb.Policy(type=pb.POLICY_TYPE_THOMPSON)), timeout=10)
    feedback(stub, room, "a", 200, 20)
    feedback(stub, room, "green", 50, 10)

    # The server samples every room (every 0.5 s here): before any page has
    # asked, the room's share over time is there already.
    time.sleep(1.2)
    feedback(stub, room, "green", 30, 3)
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(url + f"api/stats?room={room}", timeout=10) as r:
            history = json.load(r)["share_history"]
        if history or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert history and history[-1]["share"]["green"] == 1.0, history

    with urllib.request.urlopen(url + "favicon.ico", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "image/svg+xml"
        assert r.read().startswith(b"<svg")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + f"#room={room}")
            expect(page.locator('#arms tr[data-arm="a"] td.views')).to_have_text(
                "200", timeout=10_000)
            expect_swatch(page, "green", PALETTE_RGB["green"])
            expect_swatch(page, "blue", PALETTE_RGB["blue"])
            expect_swatch(page, "a", PALETTE_RGB["orange"])
            expect_swatch(page, "b", PALETTE_RGB["red"])

            # One posterior density per arm; the arm with 200 views has the
            # narrowest, so the highest peak.
            expect(page.locator("#posterior")).to_be_visible()
            assert page.locator("#curves").is_hidden()
            assert page.locator("#hotcold").is_hidden()
            expect(page.locator("#posterior-chart polyline")).to_have_count(4)
            # One evaluation reads every curve at once (the chart is redrawn
            # every second): arm -> the top of its curve (smallest SVG y).
            peaks = page.evaluate("""() => Object.fromEntries(
                [...document.querySelectorAll('#posterior-chart polyline')].map(e => [
                    e.dataset.arm,
                    Math.min(...e.getAttribute('points').split(' ')
                                 .map(p => Number(p.split(',')[1])))]))""")
            assert sorted(peaks) == ["a", "b", "blue", "green"]
            assert min(peaks, key=peaks.get) == "a"  # SVG y grows downwards
            page.screenshot(path=str(OUTPUT_DIR / "dashboard-thompson.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
