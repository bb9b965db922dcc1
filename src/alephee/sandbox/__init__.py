"""The built-in sandbox marketplace: its channel (``channel``), state and clock (``state``), simulated buyers
(``buyers``) and labels (``labels``)."""
