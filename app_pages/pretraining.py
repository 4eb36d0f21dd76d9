"""Pretraining: from raw text to a trained model, one section at a time: a tokenizer trained live, the data
pipeline, three tokenizers compared, MLM vs CLM, a tiny GPT trained from scratch, scaling laws and parallelism.
Sections live in ui/pretraining/; their headers are written here, because quiz questions and glossary entries
name them and tests/test_quizzes.py reads a page's headers from its page file.
"""
import streamlit as st

import ui
from core.state import Param
from ui.pretraining import data_pipeline, objectives, parallelism, scaling, tokenizer, tokenizers_compared, train_gpt


def train_a_tokenizer() -> None:
    vocab_size, text = tokenizer.widgets()
    st.header("1 · Train a BPE tokenizer, live")
    trained = tokenizer.train(vocab_size)
    checked = ui.text_input_checked(text, tokenizer.MAX_CHARS, "text")
    if checked is not None:
        st.header("2 · How it splits your text")
        tokenizer.split(trained, checked)
    st.header("3 · Vocabulary size against compression")
    tokenizer.compression(vocab_size)
    st.header("4 · The merges, step by step")
    tokenizer.merges(trained)
    st.header("The math")
    tokenizer.math()
    ui.sync_params(tokenizer.PARAMS)


def data_pipeline_section() -> None:
    st.header("Data pipeline")
    data_pipeline.render()


def tokenizers_compared_section() -> None:
    st.header("Tokenizers compared")
    tokenizers_compared.render()


def objectives_section() -> None:
    st.header("MLM vs CLM")
    objectives.render()


def train_gpt_section() -> None:
    st.header("Train a tiny GPT")
    train_gpt.render()


def scaling_section() -> None:
    st.header("Scaling")
    scaling.render()


def parallelism_section() -> None:
    st.header("Parallelism")
    parallelism.render()


st.title(":material/menu_book: Pretraining")
st.markdown(
    "Pretraining teaches a model to predict the next token on a huge corpus. This page walks the whole road on "
    "real text and real (tiny) models: learn a **tokenizer**, clean the **data**, compare tokenizers and "
    "**objectives**, then **train a GPT from scratch** and watch it learn, see how loss **scales** with model "
    "size and data, and how training is spread over many devices (**parallelism**).")

SECTIONS = {
    "Train a tokenizer": train_a_tokenizer,
    "Data pipeline": data_pipeline_section,
    "Tokenizers compared": tokenizers_compared_section,
    "MLM vs CLM": objectives_section,
    "Train a tiny GPT": train_gpt_section,
    "Scaling": scaling_section,
    "Parallelism": parallelism_section,
}
PARAMS = [Param("p_section", "Train a tokenizer", choices=tuple(SECTIONS))]

ui.bind_params(PARAMS)
section = st.segmented_control("Section", list(SECTIONS), key="p_section", required=True)
ui.sync_params(PARAMS)
SECTIONS[section or "Train a tokenizer"]()

ui.quiz("Pretraining")
