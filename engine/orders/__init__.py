"""Order management: the pre-trade gate every order passes, from strategies
and from people alike, before it reaches a broker."""
