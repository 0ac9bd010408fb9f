"""How the chat screen draws what the session's workers report: each event is
first folded into the session (`ChatSession.apply`), then shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llamatui.tui.chat import events as ev
from llamatui.tui.chat.context import trim_notice
from llamatui.tui.chat.engines import RESTART_HINT
from llamatui.tui.chat.recorder import meta_of
from llamatui.tui.history.records import ReplyMeta
from llamatui.tui.history.status import FINISH_NOTES, STATUS_NOTES
from llamatui.tui.widgets.chat_message import CONTINUE_OFFER
from llamatui.tui.widgets.conversation_view import reply_footer
from llamatui.tui.widgets.direct_paint import together

if TYPE_CHECKING:
    from llamatui.tui.screens.chat import ChatScreen


async def draw_event(screen: ChatScreen, event: ev.Event) -> None:
    """Fold a worker's event into the session and show it."""
    if not screen.session.apply(event):
        return  # a load the user has since replaced
    match event:
        case ev.LoadStarted(name=name):
            screen.status.load_note = name
        case ev.LoadProgress(name=name, fraction=fraction, note=note):
            screen.status.load_note = f"{name} {fraction:.0%}" + (f" · {note}" if note else "")
        case ev.ModelLoaded(info=info, memory=memory):
            screen.meters.show_model(info, memory)
            if info.notice:
                screen.conversation.notice(f"{info.name}: {info.notice}")
            screen.count_draft()
        case ev.LoadFailed(reason=reason, cancelled=True):
            back = screen.session.previous  # a switch cancelled: the model before it
            if back is not None and back != screen.session.wanted:
                screen.conversation.notice(f"Loading was cancelled: back to {back.name}.")
                screen.switch_model(back)
            else:
                screen.conversation.notice("Loading was cancelled. Ctrl+L picks a model.")
        case ev.LoadFailed(reason=reason):
            screen.conversation.notice(f"Could not load the model: {reason}", error=True)
        case ev.PromptSaved(reply_id=rid, prompt_id=pid):
            if screen.streaming is not None:  # now the message actions can find them
                screen.streaming.message_id = rid
            if pid is not None and (user := screen.conversation.pending_user) is not None:
                user.message_id = pid
            await screen.refresh_pane()
        case ev.TextStreamed(text=text, n_tokens=n):
            with together():  # the reply's new words and the count, in one write
                if screen.streaming is not None:
                    screen.streaming.append(text)
                screen.status.streamed += n
            return  # nothing the status line shows from the session has changed
        case ev.ContextTrimmed(dropped=dropped, n_ctx=n_ctx):
            screen.conversation.notice(trim_notice(dropped, n_ctx))
        case ev.ReplyEnded(stats=None):
            await screen.end_reply(FINISH_NOTES["cancelled"], cut=True)
        case ev.ReplyEnded(stats=stats) if stats is not None:
            note = FINISH_NOTES[stats.finish]
            if screen.session.cut:
                note += CONTINUE_OFFER
            job = screen.session.last_reply  # its meta names the model
            meta = meta_of(stats, job.meta if job is not None else ReplyMeta())
            await screen.end_reply(reply_footer(meta, note), cut=bool(note))
        case ev.ReplyFailed(reason=reason, engine_died=died, kept=kept):
            screen.conversation.notice(reason + (RESTART_HINT if died else ""), error=True)
            await screen.end_reply(None if kept else STATUS_NOTES["interrupted"], cut=True)
        case ev.EngineStopped(reason=reason):
            screen.conversation.notice(f"The engine stopped: {reason}.{RESTART_HINT}", error=True)
        case ev.ContextCounted(tokens=tokens, exact=exact):
            screen.status.next_prompt = tokens
            screen.status.estimated = not exact
        case ev.SaveFailed(reason=reason):
            screen.conversation.notice(reason, error=True)
    screen.sync()
