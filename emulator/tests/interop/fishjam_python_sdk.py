"""The official Fishjam Python server SDK against the emulator (Fishjam Cloud mode).

Run by `emulator/tests/interop.rs`, which starts the emulator and checks what this prints.

    python fishjam_python_sdk.py lifecycle BASE_URL TOKEN WEBHOOK_URL
        FishjamNotifier receives a whole room lifecycle while FishjamClient makes every call of
        its README and of the room, peer, livestream, forwarding and recording APIs. Prints one
        JSON object: the calls made and every notification the notifier received, in order.

    python fishjam_python_sdk.py webhooks SECRET BODY_FILE...
        decode_server_notifications and verify_webhook_signature on webhook bodies the emulator
        POSTed (each BODY_FILE has its x-fishjam-signature-256 value in BODY_FILE.sig). Prints
        one JSON object per body.

Any failure raises, so the process exits non-zero with the SDK's own traceback.
"""

import asyncio
import json
import sys
import urllib.request
import warnings

warnings.simplefilter("ignore")

from fishjam import (  # noqa: E402
    FishjamClient,
    FishjamNotifier,
    PeerOptions,
    PeerOptionsVapi,
    RoomOptions,
    decode_server_notifications,
    verify_webhook_signature,
)
from fishjam._fishjam_openapi_client.models.composition_source import (  # noqa: E402
    CompositionSource,
)


def kind(notification) -> str:
    """`ServerMessageRoomCreated` -> `room_created`."""
    name = type(notification).__name__.removeprefix("ServerMessage")
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def control(base: str, token: str, path: str, body=None):
    """The emulator's simulated media side: POST /emulator/…"""
    data = json.dumps(body if body is not None else {}).encode()
    request = urllib.request.Request(
        f"{base}/emulator{path}",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def client_calls(base: str, token: str, webhook_url: str) -> list:
    client = FishjamClient(fishjam_id=base, management_token=token)
    calls = []

    def call(name, value=None):
        calls.append(name)
        return value

    client.check_credentials()
    call("check_credentials")
    # The README's calls.
    readme_room = call(
        "create_room(README options)",
        client.create_room(options=RoomOptions(video_codec="h264", webhook_url=webhook_url)),
    )
    assert readme_room.config.video_codec.value == "h264", readme_room
    peer, peer_token = call("create_peer(README)", client.create_peer(readme_room.id))
    assert peer.type_.value == "webrtc" and peer_token, peer
    # The rest of the room API.
    room = call(
        "create_room(batched webhooks)",
        client.create_room(
            RoomOptions(max_peers=10, webhook_url=webhook_url, batch_webhook_notifications=True)
        ),
    )
    assert room.config.batch_webhook_notifications is True, room
    assert {r.id for r in call("get_all_rooms", client.get_all_rooms())} >= {room.id, readme_room.id}
    assert call("get_room", client.get_room(room.id)).id == room.id
    alice, _ = call("create_peer(metadata)", client.create_peer(room.id, PeerOptions(metadata={"name": "Alice"})))
    bob, _ = call("create_peer(manual)", client.create_peer(room.id, PeerOptions(subscribe_mode="manual")))
    vapi = call("create_vapi_agent", client.create_vapi_agent(room.id, PeerOptionsVapi(api_key="k", call_id="c")))
    assert vapi.type_.value == "vapi", vapi
    assert call("refresh_peer_token", client.refresh_peer_token(room.id, alice.id))
    control(base, token, f"/room/{room.id}/peer/{alice.id}/connect")
    track = control(base, token, f"/room/{room.id}/peer/{alice.id}/track", {"type": "audio"})["data"]["id"]
    call("subscribe_peer", client.subscribe_peer(room.id, bob.id, alice.id))
    call("subscribe_tracks", client.subscribe_tracks(room.id, bob.id, [track]))
    bob_now = [p for p in client.get_room(room.id).peers if p.id == bob.id][0]
    assert bob_now.subscriptions.peers == [alice.id] and bob_now.subscriptions.tracks == [track], bob_now
    assert call("create_livestream_viewer_token", client.create_livestream_viewer_token(room.id))
    assert call("create_livestream_streamer_token", client.create_livestream_streamer_token(room.id))
    call("forward_room_tracks", client.forward_room_tracks(room.id, "https://rtc.fishjam.io/api/composition/1"))
    assert client.get_room(room.id).composition_info is not None
    moq = call("create_moq_access", client.create_moq_access(publish_path="p"))
    assert moq.token, moq
    source = CompositionSource(composition_url="https://rtc.fishjam.io/api/composition/1", output_id="o")
    recording = call("create_composition_recording", client.create_composition_recording(source, {"meeting": "m"}))
    assert recording.status.value == "active", recording
    assert call("get_recording", client.get_recording(recording.id)).id == recording.id
    assert recording.id in [r.id for r in call("get_all_recordings", client.get_all_recordings())]
    assert call("stop_recording", client.stop_recording(recording.id)).status.value == "available"
    call("delete_recording", client.delete_recording(recording.id))
    control(base, token, f"/room/{room.id}/peer/{alice.id}/disconnect")
    call("delete_peer", client.delete_peer(room.id, bob.id))
    call("delete_room", client.delete_room(room.id))
    call("delete_room(README)", client.delete_room(readme_room.id))
    return calls


async def lifecycle(base: str, token: str, webhook_url: str) -> None:
    notifier = FishjamNotifier(fishjam_id=base, management_token=token)
    received = []
    done = asyncio.Event()

    @notifier.on_server_notification
    def handle(notification):
        received.append(kind(notification))
        # The README room is deleted last.
        if received.count("room_deleted") == 2:
            done.set()

    task = asyncio.create_task(notifier.connect())
    await asyncio.wait_for(notifier.wait_ready(), 10)
    calls = await asyncio.to_thread(client_calls, base, token, webhook_url)
    await asyncio.wait_for(done.wait(), 10)
    task.cancel()
    print(json.dumps({"calls": calls, "notifications": received}))


def webhooks(secret: str, files: list) -> None:
    for path in files:
        with open(path, "rb") as body_file:
            body = body_file.read()
        with open(path + ".sig") as signature_file:
            signature = signature_file.read().strip()
        decoded = decode_server_notifications(body)
        print(
            json.dumps(
                {
                    "file": path,
                    "notifications": [kind(n) for n in decoded],
                    "signature_valid": verify_webhook_signature(body, signature, secret),
                    "wrong_secret_rejected": not verify_webhook_signature(body, signature, secret + "x"),
                }
            )
        )


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "lifecycle":
        asyncio.run(lifecycle(*args))
    elif mode == "webhooks":
        webhooks(args[0], args[1:])
    else:
        raise SystemExit(f"unknown mode {mode!r}: use lifecycle or webhooks")
