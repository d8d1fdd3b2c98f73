"""Operations the launcher runs at start: long-running workflows the product needs."""
