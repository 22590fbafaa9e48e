"""What every full screen of the panel shares: the panel it was given when
made, the status header, and whether its widgets are there to paint."""

from __future__ import annotations

from textual.screen import Screen

from tui.host import Panel
from tui.state import PanelState
from tui.widgets.header import StatusHeader


class PanelScreen(Screen[None]):
    def __init__(self, panel: Panel) -> None:
        super().__init__()
        self.panel = panel
        self._ready = False  # set once mounted
        # The footer's keys as last shown (key, enabled); None before the first paint.
        self._keys_shown: tuple[tuple[str, bool], ...] | None = None

    @property
    def live(self) -> bool:
        """Whether the widgets are there to paint: a paint or a load finishing can
        race the screen's closing (or the app's), which removes them first."""
        return self._ready and not (self._closing or self._closed or self.app._exit)

    def show_header(self, state: PanelState) -> None:
        self.query_one(StatusHeader).show(state, self.panel.client.description, self.panel.link)

    def refresh_keys(self) -> None:
        """Tell the footer to redraw its keys, if the rows just painted changed
        which of them are enabled (an empty pane disables its row actions).

        The footer rebuilds all of its keys on every such call, which under a busy
        market costs more than the rows themselves; most paints change no key."""
        shown = tuple(
            (key, enabled)
            for key, (_, binding, enabled, _) in self.active_bindings.items()
            if binding.show
        )
        if shown != self._keys_shown:
            self._keys_shown = shown
            self.refresh_bindings()
