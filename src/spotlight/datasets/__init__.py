"""Datasets: a synthetic Markov-chain generator and the MovieLens releases."""
