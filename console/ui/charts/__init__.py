"""Chart parts shared by the Dashboard's cards: the card, markers, axes, curves, the time view."""
