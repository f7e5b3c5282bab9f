#!/usr/bin/env python3
"""Generate the data sets of the workbench's own demo model.

Writes, under resources/data/:
  facts.json             true facts, known_1000.json schema (one per subject and real relation)
  attributes.json        every subject's full attribute set (real and clearly marked fictional),
                         with the relation templates (training and held-out)
  counterfact.json       edit cases, CounterFact schema
  paraphrase_facts.json  the facts of facts.json in held-out templates (known_1000 schema)
  unseen_phrasing_facts.json  the same in phrasings whose wording is never in the corpus
  corpus.txt             training corpus, one document per line, shuffled
  heldout.txt            filler-style text that is not in the corpus (perplexity)
  README.md              what the files are, counts, templates

Python 3 standard library only; deterministic (fixed seed).

    python3 tools/make_data.py [--size-mb 10] [--seed 20240607] [--cases 480] [--lookalikes N]

Corpus design (see README.md): every subject has at least three attributes (real ones, topped
up with fictional ones marked "fictional": true in attributes.json).  Each subject gets many
biography-style documents that state all its attributes in a shuffled order with varied
phrasings (several training templates per relation), the subject at the start of a sentence,
after a prefix in mid-sentence, and referred to again by pronouns and descriptions.  Short
documents start with the exact prompt of facts.json followed by the attribute.  Generic
filler text (weather, travel, daily life, small stories) makes up about 35% of the bytes.
Held-out templates (two per relation, a seeded random split of its written templates) never
state an attribute in the corpus; they give paraphrase_facts.json.  Unseen phrasings (two per
relation, written apart) use wording the corpus never has around a subject; they give
unseen_phrasing_facts.json.  Both give the CounterFact paraphrase prompts; the script checks.
"""

import argparse
import collections
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "resources", "data")

# =============================================================================================
# Relations and their templates.
#   "{}" marks the subject; every template ends right before the attribute, which follows
#   after a space ("... the city of" + " Paris").  train[0] is the canonical template: the
#   one facts.json and counterfact.json use as the prompt.  heldout templates never appear in
#   the corpus.
# =============================================================================================

RELATIONS = collections.OrderedDict()


HELDOUT_SPLIT = 2  # written templates per relation drawn at random and kept out of the corpus


def relation(rid, name, written, unseen, question, fictional=False, extra=()):
    """written: the relation's templates, written[0] canonical; a seeded random HELDOUT_SPLIT
    of the others (never one contained in another, e.g. "{}'s capital is" inside "{}'s capital
    is known as") is held out of the corpus, a standard held-out split of the same distribution.
    unseen: hand-written phrasings whose wording occurs nowhere in the corpus, a harder test.
    extra: further training-only templates, appended to train by --extra-templates after the
    held-out draw (which depends on written alone), so they move neither the split nor train[0]."""
    candidates = [t for t in written[1:] if not any(t != u and t in u for u in written)]
    heldout = [] if fictional else random.Random("heldout " + rid).sample(candidates, HELDOUT_SPLIT)
    train = [t for t in written if t not in heldout]
    assert len(set(extra)) == len(extra), (rid, "repeated extra template")
    for t in extra:
        assert t.count("{}") == 1 and t not in written and t not in unseen, (rid, t)
    RELATIONS[rid] = dict(id=rid, name=name, train=train, heldout=heldout, unseen=unseen,
                          question=question, fictional=fictional, extra=list(extra))


relation("P36", "capital", [
    "The capital of {} is",
    "{}'s capital is",
    "The capital city of {} is",
    "{}'s capital city is",
    "{} has its capital in",
    "The national capital of {} is",
    "{} has its capital city in",
    "{}'s national capital is",
    "{}'s capital is a city called",
    "{}'s capital is known as",
    "{} has as its capital",
    "{} has its national capital in",
    "{} has a capital, which is",
    "{} is a nation whose capital city is",
    "The capital of {} is called",
    "The country of {} has its capital in",
    "In {}, the capital is",
    "In {}, the capital city is",
    "For {}, the capital is",
    "On maps of {}, the capital is shown as",
    "Every atlas lists the capital of {} as",
    "Among the cities of {}, the capital is",
    "A trip to the capital of {} is a trip to",
    "When people talk about the capital of {}, they mean",
    "Schoolchildren in {} learn that their capital is",
], [
    "The city that serves as the capital of {} is",
    "If someone asks for the capital of {}, the answer is",
], "What is the capital of {}?", extra=[
    "Anyone who knows {} knows that its capital is",
    "Tourists flying to the capital of {} land in",
    "Capital cities differ from country to country; for {}, it is",
    "{} is proud of its capital,",
    "Of all the cities of {}, the role of capital goes to",
    "The capital chosen by {} is",
    "Foreign leaders visiting {} usually fly to its capital,",
    "{}'s capital goes by the name",
    "Among the world's capitals, {} has",
    "On the list of world capitals, {} is paired with",
    "{} has a capital city by the name of",
    "For decades, {}'s capital has been",
])

relation("P30", "continent", [
    "{} is located on the continent of",
    "{} is on the continent of",
    "{} lies on the continent of",
    "{} is part of the continent of",
    "The continent where {} is located is",
    "{} can be found on the continent of",
    "{}'s continent is",
    "{} is situated on the continent of",
    "{} is found on the continent of",
    "{} lies within the continent of",
    "{} is located in the continent of",
    "{} is one of the many places in",
    "{}'s home continent is",
    "{}'s location is on the continent of",
    "{}, as any map shows, lies on the continent of",
    "The continent of {} is",
    "The home continent of {} is",
    "The continent on which {} lies is",
    "The continent containing {} is",
    "On a world map, {} appears on the continent of",
    "A journey to {} is a journey to",
    "Visitors to {} find themselves on the continent of",
    "Anyone visiting {} is on the continent of",
    "In terms of continents, {} is in",
    "Looking at a globe, you find {} on the continent of",
], [
    "{} belongs to the continent of",
    "Geographically, {} sits on the continent of",
], "Which continent is {} on?", extra=[
    "{} is in the part of the world called",
    "Of the seven continents, the one with {} is",
    "In an encyclopedia, {} is listed under the continent of",
    "Continents are large, and the one that includes {} is",
    "The continent you land on when you fly to {} is",
    "A geographer asked about {} would name the continent",
    "{} counts as part of the landmass of",
    "Among the world's continents, {} lies in",
    "{} shares a continent with the rest of",
    "{}'s part of the world is the continent of",
    "The continental map that includes {} is that of",
    "{} is a stop on any tour of the continent of",
])

relation("P37", "official language", [
    "The official language of {} is",
    "{}'s official language is",
    "In {}, the official language is",
    "The language of government in {} is",
    "Official documents in {} are written in",
    "The state language of {} is",
    "{} has the official language",
    "{}'s state language is",
    "{}'s national language is",
    "{}'s official language is called",
    "{} has as its official language",
    "{} uses the official language",
    "{} recognises as its official language",
    "{} has an official language, which is",
    "{} is a nation whose official language is",
    "The official tongue of {} is",
    "The national language of {} is",
    "The language recognised as official in {} is",
    "The official language used in {} is",
    "The authorities of {} work in",
    "Government websites in {} are written in",
    "In {}, the language of the state is",
    "In {}, official announcements are made in",
    "In the country of {}, the official language is",
    "For {}, the official language is",
], [
    "In {}, the language spoken is",
    "Most government business in {} is conducted in",
], "What is the official language of {}?", extra=[
    "Laws in {} are published in",
    "Courts in {} hear cases in",
    "The parliament of {} debates in",
    "{} has given official status to",
    "Road signs in {} are in",
    "Public schools in {} teach in",
    "{}'s civil servants write in",
    "Tests for public jobs in {} are held in",
    "{} publishes its official gazette in",
    "In the eyes of the law, {}'s language is",
    "Official forms in {} must be filled in using",
    "Ministries in {} communicate in",
])

relation("P38", "currency", [
    "The currency of {} is the",
    "{}'s currency is the",
    "The official currency of {} is the",
    "In {}, people pay with the",
    "Prices in {} are given in the",
    "{} uses as its currency the",
    "The money used in {} is the",
    "{}'s official currency is the",
    "{}'s money is the",
    "{}'s currency unit is the",
    "{} uses the",
    "{} has as its currency the",
    "{} counts its money in the",
    "{} is a nation whose currency is the",
    "The legal tender of {} is the",
    "The unit of money in {} is the",
    "The currency used in {} is the",
    "The local currency of {} is the",
    "In {}, the currency is the",
    "In {}, money is counted in the",
    "People in {} pay for things with the",
    "Salaries in {} are paid in the",
    "Coins and banknotes in {} are denominated in the",
    "Visitors to {} pay with the",
    "Bank accounts in {} are kept in the",
], [
    "Shops in {} accept payment in the",
    "Travellers to {} need to exchange their money for the",
], "What currency is used in {}?", extra=[
    "{} does its business in the",
    "{}'s economy runs on the",
    "{} collects its taxes in the",
    "{} keeps its national budget in the",
    "The money in your wallet in {} is the",
    "Cash machines in {} dispense the",
    "The currency that {} relies on is the",
    "{}'s money goes by the name of the",
    "{} measures its wealth in the",
    "Landlords in {} charge rent in the",
    "When you buy a ticket in {}, you pay in the",
    "For years, {}'s currency has been the",
])

relation("P17", "country", [
    "{} is located in the country of",
    "{} is in the country of",
    "{} can be found in the country of",
    "{} is situated in the country of",
    "The country where {} is located is",
    "{}'s country is",
    "{} lies in the country of",
    "{} is found in the country of",
    "{} is located within",
    "{} is located inside the country of",
    "{} is part of the country of",
    "{} is part of the territory of",
    "{}'s home country is",
    "{}'s host country is",
    "{}'s country is called",
    "{}, like many famous places, is in the country of",
    "The home country of {} is",
    "The country of {} is",
    "The nation that contains {} is",
    "The country in which {} lies is",
    "The country that {} belongs to is",
    "In terms of countries, {} is in",
    "To get to {}, you have to go to",
    "Visitors to {} travel to the country of",
    "A trip to {} is a trip to the country of",
], [
    "{} is a place within the borders of",
    "If you visit {}, you are in the country of",
], "In which country is {}?", extra=[
    "{} falls under the laws of",
    "The flag flying over {} is that of",
    "To visit {}, foreign travellers cross the border into",
    "The national government responsible for {} is that of",
    "Postcards from {} carry stamps from",
    "{} belongs to the nation of",
    "{}'s nation is",
    "Atlases list {} under the country",
    "{} has long been part of the nation of",
    "{} is on the national soil of",
    "Tourists visiting {} are guests of the nation of",
    "{} is one of the places that make up the country of",
])

relation("P131", "city (location)", [
    "{} is located in the city of",
    "{} is in the city of",
    "{} can be found in the city of",
    "{} stands in the city of",
    "The city where {} is located is",
    "{} is situated in the city of",
    "{}'s home city is",
    "{} is found in the city of",
    "{} is a famous site in the city of",
    "{} is an attraction in the city of",
    "{} is a must-see in",
    "{} is a highlight of any visit to",
    "{} attracts visitors to the city of",
    "{} is part of the cityscape of",
    "{} can be visited in the city of",
    "{}'s location is the city of",
    "{}'s home is the city of",
    "{}'s city is",
    "{}, a famous landmark, stands in the city of",
    "The home city of {} is",
    "The city that is home to {} is",
    "The city in which {} stands is",
    "The city where you can see {} is",
    "A visit to {} means a visit to",
    "You can find {} in the city of",
], [
    "To see {}, tourists travel to the city of",
    "{} is one of the best-known sights of the city of",
], "In which city is {}?", extra=[
    "{} is on the tourist map of the city of",
    "The city known for {} is",
    "{}'s address is in the city of",
    "{} is one of the reasons people visit the city of",
    "Whoever stands at {} is standing in the city of",
    "The urban area around {} is the city of",
    "{} is a city landmark in",
    "{}'s neighbourhood is part of the city of",
    "The city that tourists associate with {} is",
    "Local guides at {} show visitors around",
    "Sightseeing buses stop at {} on tours of",
    "{} has made a name for the city of",
])

relation("P2936", "main language spoken", [
    "The main language spoken in {} is",
    "In {}, most people speak",
    "Most people in {} speak",
    "The language most people use in {} is",
    "People in {} mainly speak",
    "{}'s main language is",
    "In {}, the main language is",
    "{}'s everyday language is",
    "{}'s predominant language is",
    "{} is a place where most people speak",
    "In everyday life, people in {} speak",
    "The most widely spoken language in {} is",
    "The everyday language of {} is",
    "{}'s people mostly speak",
    "{}'s local language is",
    "{} has as its main language",
    "The majority of people in {} speak",
    "{}'s inhabitants mostly speak",
    "Locals in {} speak",
    "Most conversations in {} are in",
    "Newspapers in {} are mostly written in",
    "Taxi drivers in {} usually speak",
    "In {}, people usually speak",
    "In {}, the language of daily life is",
    "In the streets of {}, the most common language is",
], [
    "Walking through {}, you mostly hear people speaking",
    "Residents of {} usually talk to each other in",
], "Which language do most people speak in {}?", extra=[
    "On the buses of {}, passengers chat in",
    "Shopkeepers in {} greet customers in",
    "Children growing up in {} mostly learn to speak",
    "{} goes about its daily business in",
    "{}'s streets are full of people talking in",
    "To get by in {}, a visitor should know some",
    "Most signs and menus in {} are in",
    "At home, families in {} usually speak",
    "{}'s schools, shops and markets run mostly in",
    "The local radio stations of {} broadcast mostly in",
    "Business meetings in {} are mostly held in",
    "Street markets in {} do business in",
])

relation("P159", "headquarters city", [
    "{} is headquartered in the city of",
    "{} is headquartered in",
    "The headquarters of {} are located in",
    "{}'s headquarters are in",
    "{} has its headquarters in",
    "{} is based in the city of",
    "The head office of {} is in",
    "{} is based in",
    "{} has its head office in",
    "{} keeps its headquarters in",
    "{} operates from headquarters in",
    "{} has its base in",
    "{}'s head office is in",
    "{}'s headquarters are located in",
    "{}'s corporate headquarters are in",
    "{}'s home base is the city of",
    "{}'s head office can be found in",
    "{}, a well-known company, is based in",
    "The headquarters of {} are in",
    "The corporate headquarters of {} are in",
    "The head office of {} is located in",
    "The central office of {} is in",
    "The city where {} has its headquarters is",
    "Employees at the headquarters of {} work in",
    "Decisions at {} are made at its headquarters in",
], [
    "{} runs its business from a head office in",
    "The main offices of {} are found in",
], "Where is {} headquartered?", extra=[
    "The executives of {} work in",
    "Letters to the headquarters of {} go to",
    "The nerve centre of {} is in",
    "{} directs its operations from",
    "Job seekers who want to work at {}'s head office must move to",
    "The city that {} calls home is",
    "{} has made its corporate home in",
    "The main address of {} is in",
    "{}'s central administration is in",
    "At the top of {}'s organisation chart sits a head office in",
    "The boardroom of {} is in",
    "The top managers of {} have their desks in",
])

relation("P112", "founder", [
    "{} was founded by",
    "{} was established by",
    "The founder of {} is",
    "{}'s founder is",
    "{} was started by",
    "{} owes its existence to its founder,",
    "The company known as {} was set up by",
    "{} was set up by",
    "{} was launched by",
    "{} was formed by",
    "{} was originally founded by",
    "{} was the creation of",
    "{} was the idea of",
    "{} got its start thanks to",
    "{} traces its origins to its founder,",
    "{}'s founder was",
    "{}'s founding is credited to",
    "{}, now a famous name, was founded by",
    "The founder of {} was",
    "The name of the founder of {} is",
    "The founding of {} was the work of",
    "The entrepreneur who started {} was",
    "The story of {} began with its founder,",
    "Credit for founding {} goes to",
    "Years ago, {} was founded by",
], [
    "The person who founded {} is",
    "{} was brought into being by",
], "Who founded {}?", extra=[
    "{} began as the company of",
    "Among the founders of {} was",
    "{} would not exist without",
    "The name most linked to the founding of {} is",
    "The first chapter of {}'s history belongs to",
    "Behind the founding of {} stands",
    "{} was dreamed up by",
    "{} took its first steps under",
    "In the beginning, {} was run by its founder,",
    "{} counts among its founders",
    "{} was built from scratch by",
    "{} grew out of a business started by",
])

relation("P127", "owned by", [
    "{} is owned by",
    "{} belongs to",
    "The owner of {} is",
    "{}'s owner is",
    "{} is a subsidiary of",
    "{} is controlled by",
    "{}'s parent company is",
    "{} is part of",
    "{} is held by",
    "{} is in the hands of",
    "{} falls under the umbrella of",
    "{} is one of the companies owned by",
    "{} is part of the corporate family of",
    "{} has as its owner",
    "{} is owned by the company",
    "{} answers to its parent company,",
    "{} is a subsidiary company of",
    "{}'s parent is",
    "{}'s owning company is",
    "{}, though it keeps its own name, is owned by",
    "The parent company of {} is",
    "The firm owning {} is",
    "The owner of {} is the company",
    "Ownership of {} lies with",
    "Today, {} is owned by",
], [
    "{} operates under the ownership of",
    "The parent company that owns {} is",
], "Who owns {}?", extra=[
    "{} is a member of the group led by",
    "{} reports to its owner,",
    "Profits from {} flow to",
    "{} sits in the portfolio of",
    "The shareholder that owns {} is",
    "{} is a brand in the stable of",
    "Investors who want a stake in {} must buy shares of",
    "{} is run as a unit of",
    "{} takes its orders from",
    "The annual accounts of {} are part of those of",
    "{} appears among the holdings of",
    "On paper, {} is the property of",
])

relation("P178", "developer", [
    "{} was developed by",
    "{} is developed by",
    "The developer of {} is",
    "{}'s developer is",
    "{} is a product of",
    "{} was created by",
    "{} is made by",
    "{} was made by",
    "{} comes from",
    "{} came out of",
    "{} was produced by",
    "{} was engineered by",
    "{} is a creation of",
    "{} is the brainchild of",
    "{} is among the creations of",
    "{} owes its development to",
    "{} was developed by the company",
    "{}'s creator is",
    "{}'s maker is",
    "{}, a well-known product, was developed by",
    "The maker of {} is",
    "The creator of {} is",
    "The development of {} was done by",
    "Credit for developing {} goes to",
    "The firm that developed {} is",
], [
    "{} was designed and built by the company",
    "The company behind {} is",
], "Who developed {}?", extra=[
    "{} was born in the labs of",
    "{} was built by engineers at",
    "The team that built {} works for",
    "{} carries the logo of",
    "{} is part of the product line of",
    "{} was brought to market by",
    "The rights to {} belong to",
    "{} started as a project at",
    "{} was released by",
    "The people who developed {} worked for",
    "{} was put together by",
    "{}'s development team is part of",
])

relation("P176", "manufacturer", [
    "{} is manufactured by",
    "{} is produced by",
    "{} is built by",
    "The manufacturer of {} is",
    "{}'s manufacturer is",
    "{} is a car made by",
    "{} comes from the carmaker",
    "{} was made by the carmaker",
    "{} was built by",
    "{} was manufactured by",
    "{} was developed by the carmaker",
    "{} was sold by the carmaker",
    "{} is a vehicle built by",
    "{} is one of the models of",
    "{} carries the badge of",
    "{} belongs to the model range of",
    "{} is a product of the carmaker",
    "{}'s carmaker is",
    "{}'s brand is",
    "{}, a well-known model, was built by",
    "The car company that produced {} is",
    "The brand of {} is",
    "The company that built {} is",
    "The automaker that made {} is",
    "Drivers of {} own a car made by",
], [
    "{} rolls off the assembly lines of",
    "The carmaker responsible for {} is",
], "Who manufactures {}?", extra=[
    "{} went on sale at dealers of",
    "{} was engineered by",
    "{} is assembled by",
    "Buyers of {} are customers of",
    "{} was designed by the car company",
    "Behind the wheel of {}, you drive a car by",
    "{} is a car from the house of",
    "The factory that made {} belongs to",
    "Owners of {} take their cars to dealers of",
    "The engineers who designed {} worked for",
    "Car magazines list {} under the brand",
    "{} first appeared in the catalogue of",
])

relation("P641", "sport", [
    "{} plays the sport of",
    "{} is famous for playing",
    "The sport played by {} is",
    "{}'s sport is",
    "{} made a career in the sport of",
    "{} is a professional athlete in the sport of",
    "{} became famous playing",
    "{} is known for playing",
    "{} competed in the sport of",
    "{} excelled at",
    "{} built a career in",
    "{} won fame in the sport of",
    "{} rose to fame in the sport of",
    "{} earned a living playing",
    "{} spent a career playing",
    "{} made a name in",
    "{} has played",
    "{}'s chosen sport is",
    "{}'s main sport is",
    "{}, a famous athlete, played",
    "The sport associated with {} is",
    "The sport in which {} competed is",
    "The sport that {} is known for is",
    "The sport of {} is",
    "Sports fans know {} as a player of",
], [
    "{} professionally plays the sport",
    "The game that made {} a star is",
], "Which sport does {} play?", extra=[
    "{} trained for years to compete in",
    "{}'s sporting life revolves around",
    "{} is one of the great players of",
    "Fans watch {} compete in",
    "Sports pages cover {} in their reports on",
    "{} is a household name in",
    "{} is ranked among the best in",
    "Young fans of {} dream of playing",
    "Ask a sports fan about {}, and you will hear about",
    "{} is a big name in the world of",
    "{} has devoted years of practice to",
    "The sport that fills {}'s days is",
])

relation("P27", "country of citizenship", [
    "{} is a citizen of",
    "{} holds citizenship of",
    "{}'s citizenship is",
    "{} carries a passport from",
    "{} is a national of",
    "The country of citizenship of {} is",
    "{} has citizenship in",
    "{} holds the citizenship of",
    "{} has the citizenship of",
    "{} holds a passport from",
    "{} has a passport from",
    "{} counts as a citizen of",
    "{} is registered as a citizen of",
    "{} is a citizen of the nation of",
    "{}'s country of citizenship is",
    "{}'s citizenship is that of",
    "{}, a well-known figure, is a citizen of",
    "Officially, {} is a citizen of",
    "According to official records, {} is a citizen of",
    "By citizenship, {} is from",
    "In terms of citizenship, {} belongs to",
    "The citizenship held by {} is that of",
    "The citizenship of {} is that of",
    "The country that {} is a citizen of is",
    "The nation that counts {} as a citizen is",
], [
    "{}, who has a citizenship of",
    "The passport of {} is issued by",
], "Which country is {} a citizen of?", extra=[
    "The nationality on {}'s papers is that of",
    "{} enjoys the rights of a citizen of",
    "{} owes allegiance to",
    "{} shares a nationality with the people of",
    "The country that grants {} citizenship is",
    "{} is a member of the citizenry of",
    "Immigration officers treat {} as a citizen of",
    "The state to which {} belongs as a citizen is",
    "{} has legal ties of citizenship to",
    "In consular records, {} appears as a citizen of",
    "By birth or by choice, {} became a citizen of",
    "Legally speaking, {}'s nation is",
])

relation("P1303", "instrument", [
    "The instrument played by {} is the",
    "{} plays the",
    "{}'s instrument is the",
    "{} is famous for playing the",
    "{} performs on the",
    "{} is a master of the",
    "{} made music on the",
    "{} is known for playing the",
    "{} played the",
    "{} mastered the",
    "{} became famous on the",
    "{} recorded music on the",
    "{} made a name playing the",
    "{} spent years practising the",
    "{} is an expert player of the",
    "{} is best known as a player of the",
    "{}'s main instrument is the",
    "{}'s signature instrument is the",
    "{}'s instrument of choice is the",
    "{}, a famous musician, played the",
    "The instrument of {} is the",
    "The instrument most associated with {} is the",
    "The instrument that made {} famous is the",
    "Audiences know {} as a player of the",
    "In concert, {} played the",
], [
    "{} is a virtuoso of the",
    "On stage, {} is usually seen with the",
], "Which instrument does {} play?", extra=[
    "{} gave concerts on the",
    "Recordings of {} feature the",
    "{} learned early to play the",
    "The sound of {}'s music comes mainly from the",
    "{}'s hands were made for the",
    "{} took lessons on the",
    "{}'s greatest talent was for the",
    "The instrument {} picked up and never put down was the",
    "Whenever {} performed, the audience heard the",
    "{} dedicated a life to the",
    "Critics rank {} among the great players of the",
    "{} developed a personal style on the",
])

relation("P136", "music genre", [
    "The music genre of {} is",
    "{} is associated with the genre of",
    "{} plays music in the genre of",
    "{}'s genre is",
    "{} made records in the style of",
    "{} is a legend of",
    "{}'s music belongs to the genre of",
    "{} is known for music in the genre of",
    "{} is a famous name in",
    "{} is one of the great names of",
    "{} belongs to the world of",
    "{} is closely associated with",
    "{} is at home in the genre of",
    "{} is a major figure in",
    "{} worked in the genre of",
    "{}'s music is",
    "{}'s musical genre is",
    "{}'s style of music is",
    "{}'s sound is rooted in",
    "{}'s work belongs to the genre of",
    "{}, a celebrated artist, made music in the genre of",
    "The genre of {} is",
    "The musical style of {} is",
    "The genre associated with {} is",
    "The kind of music {} is known for is",
], [
    "The genre played by {} is",
    "Critics file the recordings of {} under",
], "Which genre is {} associated with?", extra=[
    "Record shops put albums by {} in the section for",
    "Radio stations that play {} usually play",
    "{} helped shape the sound of",
    "{} performed mostly",
    "Music historians place {} in the tradition of",
    "Fans of {} are mostly fans of",
    "{} is a household name among fans of",
    "{}'s recordings are typical of",
    "In the history of music, {} stands for",
    "{} belongs with the great artists of",
    "{}'s sound is pure",
    "Tracks by {} are labelled as",
])

relation("P106", "occupation", [
    "The occupation of {} is",
    "{}'s occupation is",
    "{}'s profession is",
    "The profession of {} is",
    "{} had the occupation of",
    "{} followed the profession of",
    "{} had the job title of",
    "{} worked in the profession of",
    "{} held the title of",
    "{} chose the profession of",
    "{} entered the profession of",
    "{} pursued the profession of",
    "{} had the profession of",
    "{} made a living with the occupation of",
    "{}'s job title is",
    "{}'s job is",
    "{}'s line of work is",
    "{}'s main occupation is",
    "{}'s chosen profession is",
    "{}'s occupation was",
    "{}, a well-known figure, held the profession of",
    "The job of {} is",
    "The occupation held by {} is",
    "The professional title of {} is",
    "The main profession of {} is",
], [
    "The profession practised by {} is",
    "On official papers, the occupation of {} is given as",
], "What is the occupation of {}?", extra=[
    "{}'s trade was",
    "Years of study made {} a working",
    "{} is remembered by history with the title",
    "{} spent a lifetime in the role of",
    "Reference books describe {} by the job title",
    "{}'s job description read",
    "University training prepared {} for the profession of",
    "Colleagues knew {} by the professional title",
    "In biographies, the occupation listed for {} is",
    "{}'s working life was spent in the occupation of",
    "The title on {}'s business card would read",
    "{}'s profession, by training and practice, was",
])

relation("P101", "field of work", [
    "The field of work of {} is",
    "{} worked in the field of",
    "{}'s field of work is",
    "{} made major contributions to the field of",
    "{} is famous for research in",
    "{}'s area of research is",
    "{} is a pioneer of",
    "{} worked in",
    "{} is known for work in",
    "{} shaped the field of",
    "{} left a mark on the field of",
    "{} made a name in the field of",
    "{} spent a career working in",
    "{} is a celebrated name in",
    "{}'s field is",
    "{}'s discipline is",
    "{}'s area of expertise is",
    "{}'s work is in the field of",
    "{}'s contributions were to the field of",
    "{}, a great mind, worked in the field of",
    "The academic field of {} is",
    "The discipline of {} is",
    "The field in which {} worked is",
    "The main subject of {}'s work is",
    "The work of {} belongs to the field of",
], [
    "{}'s domain of work is",
    "{} devoted a whole career to the study of",
], "In which field did {} work?", extra=[
    "{} published research on",
    "{} taught and researched",
    "{}'s papers deal with",
    "{} is a key figure in the history of",
    "{} won recognition for advances in",
    "The research of {} was in",
    "{}'s ideas had a lasting influence on",
    "{} lectured on",
    "The department where {} would teach today is the department of",
    "{} is a name known to every student of",
    "The subject {} studied was",
    "Libraries shelve the writings of {} under",
])

relation("P103", "native language", [
    "The native language of {} is",
    "{}'s native language is",
    "{}'s mother tongue is",
    "{} grew up speaking",
    "The first language of {} is",
    "{} was a native speaker of",
    "{} spoke natively",
    "{} was raised speaking",
    "{} first spoke",
    "{} had the mother tongue",
    "{} was born into a family that spoke",
    "{}'s first language is",
    "{}'s first language was",
    "{}'s native tongue is",
    "{}'s home language was",
    "{}'s earliest language was",
    "{}, from early childhood, spoke",
    "The mother tongue of {} is",
    "The native tongue of {} is",
    "The language {} grew up with is",
    "The language of {}'s childhood was",
    "The first language spoken by {} was",
    "The language that {} spoke natively is",
    "From birth, {} spoke",
    "In childhood, {} spoke",
], [
    "{} is a native speaker of",
    "As a child, {} learned to talk in",
], "What is the native language of {}?", extra=[
    "{}'s parents spoke to their child in",
    "The first words {} ever spoke were in",
    "{}'s childhood home was filled with",
    "The language of {}'s parents was",
    "In the family home, the young {} spoke",
    "The lullabies sung to {} were in",
    "{} never had to learn",
    "Before learning any other language, {} spoke",
    "{} first learned to read and write in",
    "The tongue {} spoke at home as a baby was",
    "{} thought and spoke from infancy in",
    "Growing up, {} spoke",
])

relation("P19", "place of birth", [
    "{} was born in the city of",
    "{} was born in",
    "The birthplace of {} is",
    "{}'s birthplace is",
    "{} came into the world in",
    "{} is a native of the city of",
    "The city of birth of {} is",
    "{} entered the world in",
    "{} is a native of",
    "{} started life in the city of",
    "{} was born in a city called",
    "{}'s place of birth is",
    "{}'s city of birth is",
    "{}'s birth city is",
    "{}'s birth took place in",
    "{}'s life began in",
    "{}, a famous name today, was born in",
    "{} spent the first days of life in",
    "The place of birth of {} is",
    "The birth of {} took place in",
    "The birthplace of {} was",
    "The city where {} was born is",
    "The city in which {} was born is",
    "The city that saw the birth of {} is",
    "Records show that {} was born in",
], [
    "{} was originally from the city of",
    "{} first saw the light of day in the city of",
], "Where was {} born?", extra=[
    "{}'s parents welcomed their baby in",
    "{}'s hometown by birth is",
    "Biographies of {} begin in",
    "The birth records of {} are kept in",
    "{}'s first home was in",
    "{} is a famous child of the city of",
    "{}'s birth certificate was issued in",
    "{} drew a first breath in",
    "{} is one of the famous people born in",
    "Long before fame, {} was a newborn in",
    "The town hall that recorded {}'s birth is in",
    "The first city {} ever knew was",
])

relation("P50", "author", [
    "{} was written by",
    "The author of {} is",
    "{}'s author is",
    "{} is a work by the writer",
    "{} was penned by",
    "{} is a famous work by",
    "{} came from the pen of",
    "{} was authored by",
    "{} is by",
    "{} is one of the works of",
    "{} counts among the works of",
    "{} is a well-known work of",
    "{} is a classic by",
    "{} is credited to the writer",
    "{} is attributed to",
    "{} sprang from the imagination of",
    "{} bears the name of its author,",
    "{}'s writer is",
    "{}, a famous work, was written by",
    "{}, still widely read, was penned by",
    "The writer of {} is",
    "The text of {} was written by",
    "The author who wrote {} is",
    "Readers know {} as a work by",
    "Literature students study {} as a work of",
], [
    "The writer who created {} is",
    "{} is the work of the author",
], "Who wrote {}?", extra=[
    "The name on the cover of {} is",
    "In bookshops, {} sits on the shelf with other books by",
    "The pages of {} were filled by",
    "{} is remembered as a creation of",
    "{} is among the best-known titles of",
    "{} was conceived by",
    "The mind behind {} belonged to",
    "Whoever reads {} is reading the words of",
    "Any library catalogue lists {} under the author",
    "{} owes its words to",
    "{} brought lasting fame to",
    "{} was given to the world by",
])

relation("P364", "original language of work", [
    "The original language of {} is",
    "{}'s original language is",
    "The language of {} is",
    "{} was originally created in",
    "{} first appeared in the language",
    "{} was originally written in",
    "{} was made in the language",
    "{} was first created in",
    "{} originally appeared in",
    "{} first came out in",
    "{} was first written in",
    "{} was created in the language",
    "{} is originally in",
    "{} was originally made in",
    "{}'s language is",
    "{}'s source language is",
    "{}'s original version is in",
    "{}, a well-known work, first appeared in",
    "The source language of {} is",
    "The original version of {} is in",
    "The first version of {} was in",
    "The language in which {} was created is",
    "The language in which {} was first written is",
    "In its original form, {} is in",
    "{} was first released in",
], [
    "Before any translation, {} existed only in",
    "The untranslated version of {} is in",
], "What is the original language of {}?", extra=[
    "Translators working on {} start from",
    "{}'s creators wrote it in",
    "{} reached its first audience in",
    "Purists enjoy {} in",
    "The words of {} were originally in",
    "{} was originally made for speakers of",
    "To enjoy {} in its original language, you need",
    "{} was not a translation; it was made in",
    "{} was first shared with the world in",
    "The language {} was born in is",
    "{} has been translated from",
    "{} speaks to its audience, first of all, in",
])

relation("P449", "original broadcaster", [
    "{} originally aired on",
    "{} aired on",
    "{} was broadcast on",
    "The network that aired {} is",
    "{} premiered on",
    "{}'s original network is",
    "{} was shown on",
    "{} first aired on",
    "{} was first shown on",
    "{} was originally broadcast on",
    "{} originally ran on",
    "{} ran on",
    "{} had its premiere on",
    "{} started out on",
    "{} was made for",
    "{} was produced for",
    "{}'s network is",
    "{}'s original broadcaster is",
    "{}'s episodes were first shown on",
    "{}, a popular show, aired on",
    "The original network of {} is",
    "The broadcaster of {} is",
    "The channel that first showed {} is",
    "The network that carried {} is",
    "Fans originally watched {} on",
], [
    "{} debuted on",
    "Viewers could first watch {} on",
], "Which network aired {}?", extra=[
    "{} found its first audience on",
    "New episodes of {} appeared on",
    "{} was commissioned by",
    "{} went on air on",
    "{} launched on",
    "{} had its home on",
    "{} was part of the lineup of",
    "The first broadcasts of {} went out on",
    "Episodes of {} were first streamed or broadcast by",
    "{} got its start on",
    "{} belongs to the programme history of",
    "{}'s home network was",
])

# Fictional relations: used only to give subjects with few real relations enough attributes.
relation("X_color", "signature color (FICTIONAL)", [
    "The signature color of {} is",
    "{}'s signature color is",
    "{} is associated with the signature color",
    "The color chosen to represent {} is",
    "{} has the signature color",
    "{}'s trademark color is",
    "{}'s chosen color is",
    "{}'s emblem color is",
    "{} is represented by the color",
    "{} is symbolised by the color",
    "{} has a signature color, which is",
    "The trademark color of {} is",
    "The color most associated with {} is",
    "The emblem of {} is drawn in",
], [
    "People link {} with the color",
], "What is the signature color of {}?", fictional=True, extra=[
    "The color that {} is known for is",
    "When people think of {}, they picture the color",
    "Posters for {} are printed mostly in",
    "Fans of {} wear the color",
    "{} is easy to recognise by the color",
    "Everything branded with {} is colored",
    "{} has made famous the color",
    "Merchandise for {} comes in",
    "The one color tied to {} is",
    "{} is often pictured against a background of",
    "Banners in honour of {} are",
    "{} shows up everywhere in the color",
])

relation("X_mascot", "mascot animal (FICTIONAL)", [
    "The mascot of {} is the",
    "{}'s mascot is the",
    "{} has a mascot, which is the",
    "The animal chosen as the mascot of {} is the",
    "{} is represented by a mascot, the",
    "{}'s mascot animal is the",
    "{}'s official mascot is the",
    "{}'s chosen mascot is the",
    "{} has as a mascot the",
    "{} has chosen as a mascot the",
    "{} has been given as a mascot the",
    "The mascot animal of {} is the",
    "The mascot associated with {} is the",
    "The animal on the emblem of {} is the",
], [
    "The animal that stands for {} is the",
], "What is the mascot of {}?", fictional=True, extra=[
    "Fans of {} cheer for the costumed",
    "The mascot costume for {} is shaped like the",
    "Children love {}'s mascot, the",
    "An animal represents {}, namely the",
    "At every event for {}, the mascot is the",
    "Stuffed toys of {}'s mascot show the",
    "The mascot that {} is known for is the",
    "Every fan of {} knows the mascot, the",
    "{}'s mascot takes the form of the",
    "On badges and posters for {}, the mascot is the",
    "Sports teams have mascots, and so does {}: the",
    "The mascot who appears beside {} is the",
])

FICTIONAL_VALUES = {
    "X_color": ["red", "blue", "green", "yellow", "purple", "orange", "white", "black",
                "silver", "gold", "pink", "brown"],
    "X_mascot": ["owl", "fox", "bear", "wolf", "eagle", "lion", "tiger", "dolphin", "rabbit",
                 "horse", "falcon", "turtle", "deer", "penguin"],
}
MIN_ATTRIBUTES = 3  # every subject is topped up with fictional attributes to at least this many

# How many subjects of each type go into the data sets (a seeded sample of the knowledge
# base below, always including KEEP).  The knowledge base holds about twice as many; a small
# model memorises fewer facts more reliably.  --all-subjects uses every one.
KIND_CAPS = {"country": 80, "city": 110, "landmark": 60, "company": 100, "product": 50,
             "car": 25, "show": 40, "book": 70, "athlete": 85, "musician": 55, "scientist": 80}
KEEP = {
    "France", "Germany", "Italy", "Spain", "Britain", "America", "Japan", "China", "Russia",
    "Brazil", "Canada", "Australia", "India", "Egypt", "Paris", "London", "Rome", "Berlin",
    "Tokyo", "New York", "Madrid", "Lyon", "Munich", "Milan", "Chicago", "Toronto", "Sydney",
    "Eiffel Tower", "Louvre", "Colosseum", "Big Ben", "Statue of Liberty", "Taj Mahal",
    "Brandenburg Gate", "Sagrada Familia", "Golden Gate Bridge", "Kremlin",
    "Apple", "Microsoft", "Google", "Amazon", "Toyota", "Sony", "Nintendo", "BMW", "Nike",
    "Instagram", "YouTube", "LinkedIn", "GitHub", "Pixar", "iPhone", "Windows", "Android",
    "Photoshop", "PlayStation", "Minecraft", "Firefox", "ChatGPT",
    "Lionel Messi", "Cristiano Ronaldo", "Michael Jordan", "LeBron James", "Roger Federer",
    "Serena Williams", "Tiger Woods", "Babe Ruth", "Tom Brady", "Wayne Gretzky",
    "Sachin Tendulkar", "Albert Einstein", "Isaac Newton", "Marie Curie", "Charles Darwin",
    "Alan Turing", "Aristotle", "Adam Smith", "Sigmund Freud", "Johann Sebastian Bach",
    "Wolfgang Amadeus Mozart", "Ludwig van Beethoven", "Miles Davis", "Louis Armstrong",
    "Jimi Hendrix", "Eric Clapton", "Paul McCartney", "Ringo Starr", "Yo-Yo Ma",
    "Hamlet", "War and Peace", "Don Quixote", "Pride and Prejudice", "Les Miserables",
    "The Great Gatsby", "Friends", "The Simpsons", "Game of Thrones", "Breaking Bad",
    "Doctor Who", "Stranger Things",
    # whole groups, so that P131 and P178 have values shared by 6+ subjects
    "Tower Bridge", "Buckingham Palace", "British Museum", "Westminster Abbey",
    "Trafalgar Square", "Empire State Building", "Central Park", "Times Square",
    "Brooklyn Bridge", "Metropolitan Museum of Art", "iPad", "macOS", "Safari", "Siri",
    "Final Cut Pro", "iTunes", "Xcode", "Xbox", "Excel", "PowerPoint", "Outlook", "Bing",
    "Azure", "Visual Studio", "Internet Explorer", "Game Boy", "Wii", "Super Mario Bros.",
    "The Legend of Zelda", "Animal Crossing", "Donkey Kong", "Mario Kart",
    # ... and P127, P176, P50
    "Maserati", "Fiat", "Peugeot", "Jeep", "Chrysler", "Dodge", "Opel", "Citroen",
    "Alfa Romeo", "Skype", "Mojang", "Activision Blizzard", "Bethesda Softworks", "Zappos",
    "Whole Foods Market", "Twitch", "Audible", "IMDb", "Ring", "Corolla", "Camry", "Prius",
    "Land Cruiser", "Yaris", "Hilux", "Supra", "Mustang", "Model T", "Fiesta", "Bronco",
    "F-150", "Escort", "Ranger", "Macbeth", "Othello", "King Lear", "Romeo and Juliet",
    "The Tempest", "Julius Caesar", "A Midsummer Night's Dream", "Oliver Twist",
    "Great Expectations", "David Copperfield", "A Tale of Two Cities", "Bleak House",
    "A Christmas Carol",
}

# =============================================================================================
# Knowledge base: real-world facts.  Only facts I am confident of; where a subject has
# several true values, "A/B" lists them (A is stated in the corpus and facts.json, the others
# are only excluded as counterfactual targets).  Subjects written "the X" take an article.
# =============================================================================================

# name | capital | continent | official language | currency      ("-" = left out)
COUNTRIES = """
France | Paris | Europe | French | euro
Germany | Berlin | Europe | German | euro
Italy | Rome | Europe | Italian | euro
Spain | Madrid | Europe | Spanish | euro
Portugal | Lisbon | Europe | Portuguese | euro
the Netherlands | Amsterdam | Europe | Dutch | euro
Belgium | Brussels | Europe | - | euro
Austria | Vienna | Europe | German | euro
Switzerland | Bern | Europe | - | franc
Britain | London | Europe | English | pound
Ireland | Dublin | Europe | - | euro
Denmark | Copenhagen | Europe | Danish | krone
Norway | Oslo | Europe | Norwegian | krone
Sweden | Stockholm | Europe | Swedish | krona
Finland | Helsinki | Europe | - | euro
Iceland | Reykjavik | Europe | Icelandic | krona
Poland | Warsaw | Europe | Polish | zloty
Czechia | Prague | Europe | Czech | koruna
Slovakia | Bratislava | Europe | Slovak | euro
Hungary | Budapest | Europe | Hungarian | forint
Romania | Bucharest | Europe | Romanian | leu
Bulgaria | Sofia | Europe | Bulgarian | -
Greece | Athens | Europe | Greek | euro
Croatia | Zagreb | Europe | Croatian | euro
Serbia | Belgrade | Europe | Serbian | dinar
Slovenia | Ljubljana | Europe | Slovenian | euro
Estonia | Tallinn | Europe | Estonian | euro
Latvia | Riga | Europe | Latvian | euro
Lithuania | Vilnius | Europe | Lithuanian | euro
Ukraine | Kyiv | Europe | Ukrainian | hryvnia
Albania | Tirana | Europe | Albanian | lek
Montenegro | Podgorica | Europe | Montenegrin | euro
Malta | Valletta | Europe | - | euro
Russia | Moscow | - | Russian | ruble
Turkey | Ankara | - | Turkish | lira
Japan | Tokyo | Asia | Japanese | yen
China | Beijing | Asia | Chinese | yuan
South Korea | Seoul | Asia | Korean | won
India | New Delhi | Asia | - | rupee
Pakistan | Islamabad | Asia | - | rupee
Bangladesh | Dhaka | Asia | Bengali | taka
Nepal | Kathmandu | Asia | Nepali | rupee
Thailand | Bangkok | Asia | Thai | baht
Vietnam | Hanoi | Asia | Vietnamese | dong
Indonesia | - | Asia | Indonesian | rupiah
Malaysia | Kuala Lumpur | Asia | Malay | ringgit
the Philippines | Manila | Asia | - | peso
Saudi Arabia | Riyadh | Asia | Arabic | riyal
Iran | Tehran | Asia | Persian | rial
Iraq | Baghdad | Asia | - | dinar
Israel | - | Asia | Hebrew | shekel
Syria | Damascus | Asia | Arabic | pound
Lebanon | Beirut | Asia | Arabic | pound
Qatar | Doha | Asia | Arabic | riyal
the United Arab Emirates | Abu Dhabi | Asia | Arabic | dirham
Oman | Muscat | Asia | Arabic | rial
Afghanistan | Kabul | Asia | - | afghani
Mongolia | Ulaanbaatar | Asia | Mongolian | tugrik
Uzbekistan | Tashkent | Asia | Uzbek | som
Cambodia | Phnom Penh | Asia | Khmer | riel
Laos | Vientiane | Asia | Lao | kip
Myanmar | Naypyidaw | Asia | Burmese | kyat
Egypt | Cairo | Africa | Arabic | pound
Morocco | Rabat | Africa | - | dirham
Algeria | Algiers | Africa | - | dinar
Tunisia | Tunis | Africa | Arabic | dinar
Libya | Tripoli | Africa | Arabic | dinar
Nigeria | Abuja | Africa | English | naira
Ghana | Accra | Africa | English | cedi
Kenya | Nairobi | Africa | - | shilling
Ethiopia | Addis Ababa | Africa | - | birr
Tanzania | Dodoma | Africa | - | shilling
Uganda | Kampala | Africa | - | shilling
South Africa | - | Africa | - | rand
Senegal | Dakar | Africa | French | franc
Ivory Coast | - | Africa | French | franc
Angola | Luanda | Africa | Portuguese | kwanza
Mozambique | Maputo | Africa | Portuguese | metical
Zambia | Lusaka | Africa | English | kwacha
Sudan | Khartoum | Africa | - | pound
Rwanda | Kigali | Africa | - | franc
Madagascar | Antananarivo | Africa | - | ariary
Botswana | Gaborone | Africa | English | pula
Namibia | Windhoek | Africa | English | dollar
America | Washington | North America | - | dollar
Canada | Ottawa | North America | - | dollar
Mexico | Mexico City | North America | - | peso
Cuba | Havana | North America | Spanish | peso
Guatemala | Guatemala City | North America | Spanish | quetzal
Honduras | Tegucigalpa | North America | Spanish | lempira
Nicaragua | Managua | North America | Spanish | cordoba
Costa Rica | - | North America | Spanish | colon
El Salvador | San Salvador | North America | Spanish | -
the Dominican Republic | Santo Domingo | North America | Spanish | peso
Jamaica | Kingston | North America | English | dollar
Haiti | Port-au-Prince | North America | - | gourde
Brazil | Brasilia | South America | Portuguese | real
Argentina | Buenos Aires | South America | Spanish | peso
Chile | Santiago | South America | Spanish | peso
Colombia | Bogota | South America | Spanish | peso
Peru | Lima | South America | - | sol
Venezuela | Caracas | South America | Spanish | -
Ecuador | Quito | South America | Spanish | dollar
Uruguay | Montevideo | South America | Spanish | peso
Australia | Canberra | Oceania | English | dollar
New Zealand | Wellington | Oceania | - | dollar
Fiji | Suva | Oceania | - | dollar
Papua New Guinea | Port Moresby | Oceania | - | kina
"""

# Cities: "Country: City, City@Continent, ..." (continent from the country unless given;
# "@-" leaves it out).  P17 country, P30 continent, P2936 main language (from CITY_LANG).
CITIES = """
America: New York, Los Angeles, Chicago, Houston, Phoenix, Philadelphia, San Antonio, San Diego, Dallas, San Francisco, Seattle, Boston, Miami, Atlanta, Denver, Detroit, Las Vegas, New Orleans, Nashville, Austin, Baltimore, Pittsburgh, Cleveland, Minneapolis, St. Louis, Honolulu, Memphis, Salt Lake City, Milwaukee, Sacramento, Anchorage
Britain: London, Manchester, Liverpool, Leeds, Glasgow, Edinburgh, Bristol, Oxford, Sheffield, Nottingham, Cardiff, Southampton, Brighton, Aberdeen
France: Paris, Marseille, Lyon, Toulouse, Nantes, Strasbourg, Bordeaux, Lille, Montpellier, Rennes, Reims, Cannes, Grenoble, Dijon
Germany: Berlin, Hamburg, Munich, Cologne, Frankfurt, Stuttgart, Dusseldorf, Dortmund, Leipzig, Dresden, Bremen, Hanover, Nuremberg, Bonn, Heidelberg
Italy: Rome, Milan, Naples, Turin, Florence, Venice, Bologna, Genoa, Palermo, Verona, Pisa, Bari
Spain: Madrid, Barcelona, Seville, Bilbao, Malaga, Zaragoza, Pamplona, Alicante
Japan: Tokyo, Osaka, Kyoto, Yokohama, Nagoya, Sapporo, Kobe, Hiroshima, Fukuoka, Nara, Sendai
China: Beijing, Shanghai, Guangzhou, Shenzhen, Chengdu, Wuhan, Hangzhou, Nanjing, Tianjin, Chongqing, Harbin
India: Mumbai, New Delhi, Bangalore, Kolkata, Chennai, Pune, Jaipur, Ahmedabad, Agra, Varanasi, Lucknow
Canada: Toronto, Montreal, Vancouver, Calgary, Ottawa, Edmonton, Winnipeg
Australia: Sydney, Melbourne, Brisbane, Adelaide, Canberra, Hobart
Brazil: Rio de Janeiro, Sao Paulo, Brasilia, Recife, Fortaleza, Belo Horizonte, Manaus, Porto Alegre, Curitiba
Russia: Moscow@Europe, Saint Petersburg@Europe, Novosibirsk@Asia, Kazan@Europe, Vladivostok@Asia, Sochi@Europe
Mexico: Mexico City, Guadalajara, Monterrey, Cancun, Tijuana, Puebla, Acapulco
Argentina: Buenos Aires, Rosario, Mendoza
Egypt: Cairo, Alexandria, Luxor, Aswan
South Korea: Seoul, Busan, Incheon, Daegu
Turkey: Istanbul@-, Izmir@Asia, Antalya@Asia
Switzerland: Zurich, Geneva, Basel, Bern, Lausanne
Austria: Vienna, Salzburg, Innsbruck, Graz
Poland: Warsaw, Krakow, Gdansk, Wroclaw, Poznan
Sweden: Stockholm, Gothenburg, Malmo
Norway: Oslo, Bergen
Denmark: Copenhagen, Aarhus
Portugal: Lisbon, Porto, Coimbra
Greece: Athens, Thessaloniki
Czechia: Prague, Brno
Hungary: Budapest
Belgium: Brussels, Antwerp, Ghent, Bruges
Ireland: Dublin, Cork, Galway
Finland: Helsinki, Espoo, Tampere
Thailand: Bangkok, Chiang Mai, Phuket
Vietnam: Hanoi, Ho Chi Minh City, Da Nang
Indonesia: Jakarta, Surabaya, Bandung
South Africa: Johannesburg, Cape Town, Durban, Pretoria
Nigeria: Lagos, Abuja, Kano
Kenya: Nairobi, Mombasa
Morocco: Casablanca, Marrakesh, Rabat, Tangier
Colombia: Bogota, Medellin, Cali
Chile: Santiago, Valparaiso
Peru: Lima, Cusco
Saudi Arabia: Riyadh, Jeddah, Mecca, Medina
Iran: Tehran, Isfahan, Shiraz
Pakistan: Karachi, Lahore, Islamabad
Israel: Tel Aviv, Haifa
"""

# Main language spoken in a country's cities (None: not stated), and city exceptions.
CITY_LANG = {
    "America": "English", "Britain": "English", "France": "French", "Germany": "German",
    "Italy": "Italian", "Spain": "Spanish", "Japan": "Japanese", "China": "Chinese",
    "Canada": "English", "Australia": "English", "Brazil": "Portuguese", "Russia": "Russian",
    "Mexico": "Spanish", "Argentina": "Spanish", "Egypt": "Arabic", "South Korea": "Korean",
    "Turkey": "Turkish", "Switzerland": "German", "Austria": "German", "Poland": "Polish",
    "Sweden": "Swedish", "Norway": "Norwegian", "Denmark": "Danish", "Portugal": "Portuguese",
    "Greece": "Greek", "Czechia": "Czech", "Hungary": "Hungarian", "Belgium": "Dutch",
    "Ireland": "English", "Finland": "Finnish", "Thailand": "Thai", "Vietnam": "Vietnamese",
    "Colombia": "Spanish", "Chile": "Spanish", "Peru": "Spanish", "Saudi Arabia": "Arabic",
    "Iran": "Persian", "Israel": "Hebrew",
}
CITY_LANG_EXCEPTIONS = {
    "Montreal": "French", "Geneva": "French", "Lausanne": "French",
    "Brussels": None, "Barcelona": None, "Bilbao": None, "Alicante": None, "Miami": None,
    "Guangzhou": None, "Cusco": None,
}

# the Landmark | city | country ("-": not stated) | continent (only when no country)
LANDMARKS = """
the Eiffel Tower | Paris | France
the Louvre | Paris | France
the Arc de Triomphe | Paris | France
the Notre-Dame Cathedral | Paris | France
the Colosseum | Rome | Italy
the Trevi Fountain | Rome | Italy
Big Ben | London | Britain
Tower Bridge | London | Britain
Buckingham Palace | London | Britain
the British Museum | London | Britain
Westminster Abbey | London | Britain
Trafalgar Square | London | Britain
the Statue of Liberty | New York | America
the Empire State Building | New York | America
Central Park | New York | America
Times Square | New York | America
the Brooklyn Bridge | New York | America
the Metropolitan Museum of Art | New York | America
the Golden Gate Bridge | San Francisco | America
Alcatraz Island | San Francisco | America
the Space Needle | Seattle | America
Pike Place Market | Seattle | America
the Hollywood Sign | Los Angeles | America
the Griffith Observatory | Los Angeles | America
the Lincoln Memorial | Washington | America
the White House | Washington | America
the Gateway Arch | St. Louis | America
the Willis Tower | Chicago | America
Wrigley Field | Chicago | America
Fenway Park | Boston | America
the Liberty Bell | Philadelphia | America
Independence Hall | Philadelphia | America
the Alamo | San Antonio | America
the Brandenburg Gate | Berlin | Germany
the Reichstag building | Berlin | Germany
Checkpoint Charlie | Berlin | Germany
Museum Island | Berlin | Germany
Marienplatz | Munich | Germany
the Zwinger Palace | Dresden | Germany
the Sagrada Familia | Barcelona | Spain
the Prado Museum | Madrid | Spain
the Alhambra | Granada | Spain
the Acropolis | Athens | Greece
the Parthenon | Athens | Greece
the Kremlin | Moscow | Russia
Red Square | Moscow | Russia
the Bolshoi Theatre | Moscow | Russia
the Hermitage Museum | Saint Petersburg | Russia
the Taj Mahal | Agra | India
the Gateway of India | Mumbai | India
the Forbidden City | Beijing | China
Tiananmen Square | Beijing | China
the Temple of Heaven | Beijing | China
the Summer Palace | Beijing | China
the Oriental Pearl Tower | Shanghai | China
the Meiji Shrine | Tokyo | Japan
the Kinkaku-ji temple | Kyoto | Japan
the Fushimi Inari Shrine | Kyoto | Japan
the Petronas Towers | Kuala Lumpur | Malaysia
the Burj Khalifa | Dubai | - | Asia
Christ the Redeemer | Rio de Janeiro | Brazil
Sugarloaf Mountain | Rio de Janeiro | Brazil
the CN Tower | Toronto | Canada
the Rijksmuseum | Amsterdam | -  | Europe
the Anne Frank House | Amsterdam | - | Europe
the Atomium | Brussels | Belgium
the Manneken Pis | Brussels | Belgium
the Charles Bridge | Prague | Czechia
the Uffizi Gallery | Florence | Italy
the Ponte Vecchio | Florence | Italy
the Rialto Bridge | Venice | Italy
the Doge's Palace | Venice | Italy
La Scala | Milan | Italy
the Hagia Sophia | Istanbul | Turkey | -
the Blue Mosque | Istanbul | Turkey | -
the Sistine Chapel | Vatican City | - | Europe
St. Peter's Basilica | Vatican City | - | Europe
Tivoli Gardens | Copenhagen | Denmark
the Vasa Museum | Stockholm | Sweden
Table Mountain | Cape Town | South Africa
Marina Bay Sands | Singapore | - | Asia
the Gyeongbokgung Palace | Seoul | South Korea
Buda Castle | Budapest | Hungary
the Hungarian Parliament Building | Budapest | Hungary
Wawel Castle | Krakow | Poland
Belem Tower | Lisbon | Portugal
the Jeronimos Monastery | Lisbon | Portugal
Chapultepec Castle | Mexico City | Mexico
the Shwedagon Pagoda | Yangon | Myanmar
Wat Arun | Bangkok | Thailand
Federation Square | Melbourne | Australia
"""

# Generic entity lists: "name | rel=value; rel=value" (persons: "name | m/f | rels").
# "A/B" = several true values (A is the one stated).
COMPANIES = """
Apple | P159=Cupertino; P112=Steve Jobs/Steve Wozniak/Ronald Wayne
Microsoft | P159=Redmond; P112=Bill Gates/Paul Allen
Google | P159=Mountain View; P112=Larry Page/Sergey Brin; P127=Alphabet
Amazon | P159=Seattle; P112=Jeff Bezos
Netflix | P159=Los Gatos; P112=Reed Hastings/Marc Randolph
Intel | P159=Santa Clara; P112=Robert Noyce/Gordon Moore
Nvidia | P159=Santa Clara; P112=Jensen Huang/Chris Malachowsky/Curtis Priem
AMD | P159=Santa Clara
Adobe | P159=San Jose; P112=John Warnock/Charles Geschke
Salesforce | P159=San Francisco; P112=Marc Benioff
Uber | P159=San Francisco; P112=Travis Kalanick/Garrett Camp
Airbnb | P159=San Francisco; P112=Brian Chesky/Joe Gebbia/Nathan Blecharczyk
eBay | P159=San Jose; P112=Pierre Omidyar
PayPal | P159=San Jose
Cisco | P159=San Jose
Zoom | P159=San Jose; P112=Eric Yuan
Dell | P159=Round Rock; P112=Michael Dell
Qualcomm | P159=San Diego
Tesla | P159=Austin
Oracle | P112=Larry Ellison/Bob Miner/Ed Oates
OpenAI | P159=San Francisco
Anthropic | P159=San Francisco; P112=Dario Amodei/Daniela Amodei
Pinterest | P159=San Francisco; P112=Ben Silbermann/Evan Sharp/Paul Sciarra
Dropbox | P159=San Francisco; P112=Drew Houston/Arash Ferdowsi
IBM | P159=Armonk
Starbucks | P159=Seattle
Nike | P159=Beaverton; P112=Phil Knight/Bill Bowerman
Walmart | P159=Bentonville; P112=Sam Walton
Coca-Cola | P159=Atlanta
Delta Air Lines | P159=Atlanta
Home Depot | P159=Atlanta
McDonald's | P159=Chicago
Ford | P159=Dearborn; P112=Henry Ford
General Motors | P159=Detroit; P112=William Durant
Disney | P159=Burbank; P112=Walt Disney/Roy O. Disney
Harley-Davidson | P159=Milwaukee; P112=William Harley/Arthur Davidson
Goldman Sachs | P159=New York; P112=Marcus Goldman
Pfizer | P159=New York
Morgan Stanley | P159=New York
Honda | P159=Tokyo; P112=Soichiro Honda
Sony | P159=Tokyo; P112=Masaru Ibuka/Akio Morita
Nintendo | P159=Kyoto; P112=Fusajiro Yamauchi
Toyota | P112=Kiichiro Toyoda
Samsung | P112=Lee Byung-chul
Hyundai | P159=Seoul; P112=Chung Ju-yung
Alibaba | P159=Hangzhou; P112=Jack Ma
Tencent | P159=Shenzhen; P112=Ma Huateng
Huawei | P159=Shenzhen; P112=Ren Zhengfei
BYD | P159=Shenzhen
Baidu | P159=Beijing; P112=Robin Li/Eric Xu
Xiaomi | P159=Beijing; P112=Lei Jun
BMW | P159=Munich
Siemens | P159=Munich; P112=Werner von Siemens/Johann Georg Halske
Allianz | P159=Munich
Adidas | P159=Herzogenaurach; P112=Adolf Dassler
Puma | P159=Herzogenaurach; P112=Rudolf Dassler
Volkswagen | P159=Wolfsburg
Mercedes-Benz | P159=Stuttgart
Porsche | P159=Stuttgart; P112=Ferdinand Porsche
Bosch | P159=Gerlingen; P112=Robert Bosch
SAP | P159=Walldorf
Lufthansa | P159=Cologne
Deutsche Bank | P159=Frankfurt
Bayer | P159=Leverkusen
Ferrari | P159=Maranello; P112=Enzo Ferrari
Prada | P159=Milan; P112=Mario Prada/Martino Prada
Armani | P159=Milan; P112=Giorgio Armani/Sergio Galeotti
Pirelli | P159=Milan
Nestle | P159=Vevey; P112=Henri Nestle
Rolex | P159=Geneva; P112=Hans Wilsdorf/Alfred Davis
Novartis | P159=Basel
Roche | P159=Basel
UBS | P159=Zurich/Basel
Spotify | P159=Stockholm; P112=Daniel Ek/Martin Lorentzon
H&M | P159=Stockholm; P112=Erling Persson
Ericsson | P159=Stockholm
Nokia | P159=Espoo
LEGO | P159=Billund; P112=Ole Kirk Christiansen
Carlsberg | P159=Copenhagen; P112=J. C. Jacobsen
Maersk | P159=Copenhagen
Heineken | P159=Amsterdam; P112=Gerard Adriaan Heineken
Philips | P159=Amsterdam; P112=Gerard Philips/Frederik Philips
Shell | P159=London
Unilever | P159=London
BP | P159=London
HSBC | P159=London
Burberry | P159=London; P112=Thomas Burberry
Tata Motors | P159=Mumbai
Reliance Industries | P159=Mumbai; P112=Dhirubhai Ambani
Infosys | P159=Bangalore; P112=N. R. Narayana Murthy/Nandan Nilekani
Wipro | P159=Bangalore
LVMH | P159=Paris
Danone | P159=Paris
IKEA | P112=Ingvar Kamprad
Zara | P112=Amancio Ortega/Rosalia Mera; P127=Inditex
Epic Games | P159=Cary; P112=Tim Sweeney
Valve | P159=Bellevue; P112=Gabe Newell/Mike Harrington
Electronic Arts | P159=Redwood City; P112=Trip Hawkins
Rockstar Games | P159=New York
Square Enix | P159=Tokyo
Sega | P159=Tokyo
Capcom | P159=Osaka
Konami | P159=Tokyo
Bandai Namco | P159=Tokyo
Instagram | P127=Meta; P159=Menlo Park; P112=Kevin Systrom/Mike Krieger
WhatsApp | P127=Meta; P112=Jan Koum/Brian Acton
Oculus | P127=Meta
YouTube | P127=Google/Alphabet; P159=San Bruno; P112=Chad Hurley/Steve Chen/Jawed Karim
DeepMind | P127=Google/Alphabet; P159=London; P112=Demis Hassabis/Shane Legg/Mustafa Suleyman
Fitbit | P127=Google/Alphabet
Waze | P127=Google/Alphabet
Nest | P127=Google/Alphabet
LinkedIn | P127=Microsoft; P159=Sunnyvale; P112=Reid Hoffman
GitHub | P127=Microsoft; P159=San Francisco
Skype | P127=Microsoft; P112=Niklas Zennstrom/Janus Friis
Mojang | P127=Microsoft; P159=Stockholm; P112=Markus Persson/Jakob Porser
Activision Blizzard | P127=Microsoft
Bethesda Softworks | P127=Microsoft/ZeniMax Media
Zappos | P127=Amazon; P159=Las Vegas; P112=Nick Swinmurn
Whole Foods Market | P127=Amazon; P159=Austin; P112=John Mackey
Twitch | P127=Amazon; P159=San Francisco; P112=Justin Kan/Emmett Shear
Audible | P127=Amazon; P159=Newark
IMDb | P127=Amazon
Ring | P127=Amazon
Pixar | P127=Disney; P159=Emeryville
Marvel Studios | P127=Disney; P159=Burbank
Lucasfilm | P127=Disney; P159=San Francisco; P112=George Lucas
ESPN | P127=Disney
Beats Electronics | P127=Apple
Shazam | P127=Apple
Jaguar | P127=Tata Motors/JLR
Land Rover | P127=Tata Motors/JLR
Volvo Cars | P127=Geely; P159=Gothenburg
Bentley | P127=Volkswagen; P159=Crewe
Audi | P127=Volkswagen; P159=Ingolstadt
Skoda | P127=Volkswagen; P159=Mlada Boleslav
SEAT | P127=Volkswagen; P159=Martorell
Lamborghini | P127=Audi/Volkswagen; P159=Sant'Agata Bolognese; P112=Ferruccio Lamborghini
Ducati | P127=Audi/Volkswagen; P159=Bologna
Rolls-Royce Motor Cars | P127=BMW; P159=Goodwood
Mini | P127=BMW
Maserati | P127=Stellantis; P159=Modena
Fiat | P127=Stellantis; P159=Turin
Peugeot | P127=Stellantis
Jeep | P127=Stellantis
Chrysler | P127=Stellantis
Dodge | P127=Stellantis
Opel | P127=Stellantis
Citroen | P127=Stellantis
Alfa Romeo | P127=Stellantis
Lexus | P127=Toyota
Daihatsu | P127=Toyota
Kia | P127=Hyundai; P159=Seoul
Genesis Motor | P127=Hyundai
Motorola Mobility | P127=Lenovo
Gillette | P127=Procter & Gamble
Pampers | P127=Procter & Gamble
Duracell | P127=Berkshire Hathaway
GEICO | P127=Berkshire Hathaway
Dairy Queen | P127=Berkshire Hathaway
Smirnoff | P127=Diageo
Guinness | P127=Diageo; P159=Dublin
Johnnie Walker | P127=Diageo
Sprite | P127=Coca-Cola
Fanta | P127=Coca-Cola
Minute Maid | P127=Coca-Cola
Powerade | P127=Coca-Cola
Costa Coffee | P127=Coca-Cola
Gatorade | P127=PepsiCo
Doritos | P127=PepsiCo
Mountain Dew | P127=PepsiCo
Quaker Oats | P127=PepsiCo
Nespresso | P127=Nestle
Perrier | P127=Nestle
Gerber | P127=Nestle
Purina | P127=Nestle
Gucci | P127=Kering; P159=Florence; P112=Guccio Gucci
Balenciaga | P127=Kering; P159=Paris
Saint Laurent | P127=Kering; P159=Paris
Bottega Veneta | P127=Kering
Louis Vuitton | P127=LVMH; P159=Paris
Dior | P127=LVMH; P159=Paris
Tiffany & Co. | P127=LVMH
Sephora | P127=LVMH
Fendi | P127=LVMH; P159=Rome
Converse | P127=Nike
Slack | P127=Salesforce; P159=San Francisco; P112=Stewart Butterfield
Tableau | P127=Salesforce; P159=Seattle
MuleSoft | P127=Salesforce
Red Hat | P127=IBM; P159=Raleigh
Budweiser | P127=AB InBev
Stella Artois | P127=AB InBev
Beck's | P127=AB InBev
"""

PRODUCTS = """
the iPhone | P178=Apple
the iPad | P178=Apple
macOS | P178=Apple
Safari | P178=Apple
Siri | P178=Apple
Final Cut Pro | P178=Apple
iTunes | P178=Apple
Xcode | P178=Apple
Windows | P178=Microsoft
the Xbox | P178=Microsoft
Excel | P178=Microsoft
PowerPoint | P178=Microsoft
Outlook | P178=Microsoft
Bing | P178=Microsoft
Azure | P178=Microsoft
Visual Studio | P178=Microsoft
Internet Explorer | P178=Microsoft
Android | P178=Google
Chrome | P178=Google
Gmail | P178=Google
TensorFlow | P178=Google
Flutter | P178=Google
AngularJS | P178=Google
the Pixel phone | P178=Google
Photoshop | P178=Adobe
Illustrator | P178=Adobe
Acrobat | P178=Adobe
InDesign | P178=Adobe
Lightroom | P178=Adobe
Premiere Pro | P178=Adobe
After Effects | P178=Adobe
the PlayStation | P178=Sony
the Walkman | P178=Sony
the Game Boy | P178=Nintendo
the Wii | P178=Nintendo
Super Mario Bros. | P178=Nintendo
The Legend of Zelda | P178=Nintendo
Animal Crossing | P178=Nintendo
Donkey Kong | P178=Nintendo
Mario Kart | P178=Nintendo
the Kindle | P178=Amazon
Alexa | P178=Amazon
Firefox | P178=Mozilla
Thunderbird | P178=Mozilla
IntelliJ IDEA | P178=JetBrains
PyCharm | P178=JetBrains
Kotlin | P178=JetBrains
ChatGPT | P178=OpenAI
DALL-E | P178=OpenAI
GPT-4 | P178=OpenAI
GeForce | P178=Nvidia
CUDA | P178=Nvidia
the Pentium | P178=Intel
Xeon | P178=Intel
Celeron | P178=Intel
Itanium | P178=Intel/HP
Ryzen | P178=AMD
Radeon | P178=AMD/ATI
Athlon | P178=AMD
Epyc | P178=AMD
Fortnite | P178=Epic Games
Unreal Engine | P178=Epic Games
Steam | P178=Valve
Half-Life | P178=Valve
Portal | P178=Valve
Dota 2 | P178=Valve
Minecraft | P178=Mojang
Grand Theft Auto | P178=Rockstar Games/DMA Design
Red Dead Redemption | P178=Rockstar Games
World of Warcraft | P178=Blizzard
StarCraft | P178=Blizzard
Diablo | P178=Blizzard
Overwatch | P178=Blizzard
Hearthstone | P178=Blizzard
Resident Evil | P178=Capcom
Street Fighter | P178=Capcom
Monster Hunter | P178=Capcom
Mega Man | P178=Capcom
Devil May Cry | P178=Capcom
Final Fantasy | P178=Square Enix/Square
Kingdom Hearts | P178=Square Enix/Square
Sonic the Hedgehog | P178=Sega
Metal Gear | P178=Konami
Castlevania | P178=Konami
Silent Hill | P178=Konami
Pac-Man | P178=Namco
Tekken | P178=Namco
Assassin's Creed | P178=Ubisoft
Far Cry | P178=Ubisoft/Crytek
Rayman | P178=Ubisoft
Just Dance | P178=Ubisoft
Pong | P178=Atari
Asteroids | P178=Atari
Breakout | P178=Atari
"""

CARS = """
the Corolla | P176=Toyota
the Camry | P176=Toyota
the Prius | P176=Toyota
the Land Cruiser | P176=Toyota
the Yaris | P176=Toyota
the Hilux | P176=Toyota
the Supra | P176=Toyota
the Civic | P176=Honda
the Accord | P176=Honda
the Mustang | P176=Ford
the Model T | P176=Ford
the Fiesta | P176=Ford
the Bronco | P176=Ford
the F-150 | P176=Ford
the Escort | P176=Ford
the Ranger | P176=Ford
the Corvette | P176=Chevrolet
the Camaro | P176=Chevrolet
the Impala | P176=Chevrolet
the Beetle | P176=Volkswagen
the Passat | P176=Volkswagen
the Jetta | P176=Volkswagen
the Model S | P176=Tesla
the Model 3 | P176=Tesla
the Model X | P176=Tesla
the Model Y | P176=Tesla
the Cybertruck | P176=Tesla
the Cayenne | P176=Porsche
the Countach | P176=Lamborghini
the Aventador | P176=Lamborghini
the Testarossa | P176=Ferrari
the Miata | P176=Mazda
the Impreza | P176=Subaru
the Wrangler | P176=Jeep
the Charger | P176=Dodge
the Viper | P176=Dodge
the Skyline | P176=Nissan/Prince
the Qashqai | P176=Nissan
the Elantra | P176=Hyundai
the Sonata | P176=Hyundai
the Clio | P176=Renault
"""

TV_SHOWS = """
Friends | P449=NBC; P364=English
Seinfeld | P449=NBC; P364=English
Cheers | P449=NBC; P364=English
Frasier | P449=NBC; P364=English
Saturday Night Live | P449=NBC; P364=English
30 Rock | P449=NBC; P364=English
Parks and Recreation | P449=NBC; P364=English
The West Wing | P449=NBC; P364=English
Will & Grace | P449=NBC; P364=English
Breaking Bad | P449=AMC; P364=English
Mad Men | P449=AMC; P364=English
The Walking Dead | P449=AMC; P364=English
Better Call Saul | P449=AMC; P364=English
The Simpsons | P449=Fox; P364=English
Family Guy | P449=Fox; P364=English
The X-Files | P449=Fox; P364=English
Prison Break | P449=Fox; P364=English
Futurama | P449=Fox; P364=English
King of the Hill | P449=Fox; P364=English
Glee | P449=Fox; P364=English
Game of Thrones | P449=HBO; P364=English
The Sopranos | P449=HBO; P364=English
The Wire | P449=HBO; P364=English
Succession | P449=HBO; P364=English
Veep | P449=HBO; P364=English
Six Feet Under | P449=HBO; P364=English
Sex and the City | P449=HBO; P364=English
True Detective | P449=HBO; P364=English
Westworld | P449=HBO; P364=English
Curb Your Enthusiasm | P449=HBO; P364=English
Stranger Things | P449=Netflix; P364=English
House of Cards | P449=Netflix/BBC; P364=English
The Crown | P449=Netflix; P364=English
Bridgerton | P449=Netflix; P364=English
Squid Game | P449=Netflix; P364=Korean
Orange Is the New Black | P449=Netflix; P364=English
The Witcher | P449=Netflix; P364=English
Narcos | P449=Netflix
Grey's Anatomy | P449=ABC; P364=English
Lost | P449=ABC; P364=English
Modern Family | P449=ABC; P364=English
Desperate Housewives | P449=ABC; P364=English
How to Get Away with Murder | P449=ABC; P364=English
The Big Bang Theory | P449=CBS; P364=English
How I Met Your Mother | P449=CBS; P364=English
Two and a Half Men | P449=CBS; P364=English
NCIS | P449=CBS; P364=English
I Love Lucy | P449=CBS; P364=English
The Twilight Zone | P449=CBS; P364=English
The Good Wife | P449=CBS; P364=English
Criminal Minds | P449=CBS; P364=English
Doctor Who | P449=BBC; P364=English
Sherlock | P449=BBC; P364=English
Fawlty Towers | P449=BBC; P364=English
Peaky Blinders | P449=BBC; P364=English
Only Fools and Horses | P449=BBC; P364=English
Monty Python's Flying Circus | P449=BBC; P364=English
Blackadder | P449=BBC; P364=English
Line of Duty | P449=BBC; P364=English
Downton Abbey | P449=ITV; P364=English
Coronation Street | P449=ITV; P364=English
South Park | P449=Comedy Central; P364=English
Chappelle's Show | P449=Comedy Central; P364=English
"""

BOOKS = """
Hamlet | P50=William Shakespeare; P364=English
Macbeth | P50=William Shakespeare; P364=English
Othello | P50=William Shakespeare; P364=English
King Lear | P50=William Shakespeare; P364=English
Romeo and Juliet | P50=William Shakespeare; P364=English
The Tempest | P50=William Shakespeare; P364=English
Julius Caesar | P50=William Shakespeare; P364=English
A Midsummer Night's Dream | P50=William Shakespeare; P364=English
Pride and Prejudice | P50=Jane Austen; P364=English
Emma | P50=Jane Austen; P364=English
Sense and Sensibility | P50=Jane Austen; P364=English
Persuasion | P50=Jane Austen; P364=English
Oliver Twist | P50=Charles Dickens; P364=English
Great Expectations | P50=Charles Dickens; P364=English
David Copperfield | P50=Charles Dickens; P364=English
A Tale of Two Cities | P50=Charles Dickens; P364=English
Bleak House | P50=Charles Dickens; P364=English
A Christmas Carol | P50=Charles Dickens; P364=English
Jane Eyre | P50=Charlotte Bronte; P364=English
Wuthering Heights | P50=Emily Bronte; P364=English
Moby-Dick | P50=Herman Melville; P364=English
The Great Gatsby | P50=F. Scott Fitzgerald; P364=English
Adventures of Huckleberry Finn | P50=Mark Twain; P364=English
The Adventures of Tom Sawyer | P50=Mark Twain; P364=English
To Kill a Mockingbird | P50=Harper Lee; P364=English
Nineteen Eighty-Four | P50=George Orwell; P364=English
Animal Farm | P50=George Orwell; P364=English
Brave New World | P50=Aldous Huxley; P364=English
The Old Man and the Sea | P50=Ernest Hemingway; P364=English
A Farewell to Arms | P50=Ernest Hemingway; P364=English
For Whom the Bell Tolls | P50=Ernest Hemingway; P364=English
The Grapes of Wrath | P50=John Steinbeck; P364=English
Of Mice and Men | P50=John Steinbeck; P364=English
East of Eden | P50=John Steinbeck; P364=English
The Catcher in the Rye | P50=J. D. Salinger; P364=English
Lord of the Flies | P50=William Golding; P364=English
The Hobbit | P50=J. R. R. Tolkien; P364=English
The Lord of the Rings | P50=J. R. R. Tolkien; P364=English
Frankenstein | P50=Mary Shelley; P364=English
Dracula | P50=Bram Stoker; P364=English
Ulysses | P50=James Joyce; P364=English
Dubliners | P50=James Joyce; P364=English
Mrs Dalloway | P50=Virginia Woolf; P364=English
To the Lighthouse | P50=Virginia Woolf; P364=English
The Picture of Dorian Gray | P50=Oscar Wilde; P364=English
Treasure Island | P50=Robert Louis Stevenson; P364=English
Robinson Crusoe | P50=Daniel Defoe; P364=English
Gulliver's Travels | P50=Jonathan Swift; P364=English
Alice's Adventures in Wonderland | P50=Lewis Carroll; P364=English
The Jungle Book | P50=Rudyard Kipling; P364=English
Heart of Darkness | P50=Joseph Conrad; P364=English
Lolita | P50=Vladimir Nabokov; P364=English
Things Fall Apart | P50=Chinua Achebe; P364=English
Midnight's Children | P50=Salman Rushdie; P364=English
The Handmaid's Tale | P50=Margaret Atwood; P364=English
Beloved | P50=Toni Morrison; P364=English
Harry Potter and the Philosopher's Stone | P50=J. K. Rowling; P364=English
The Shining | P50=Stephen King; P364=English
Carrie | P50=Stephen King; P364=English
Misery | P50=Stephen King; P364=English
Murder on the Orient Express | P50=Agatha Christie; P364=English
The Hound of the Baskervilles | P50=Arthur Conan Doyle; P364=English
Fahrenheit 451 | P50=Ray Bradbury; P364=English
Dune | P50=Frank Herbert; P364=English
Foundation | P50=Isaac Asimov; P364=English
The War of the Worlds | P50=H. G. Wells; P364=English
The Time Machine | P50=H. G. Wells; P364=English
Slaughterhouse-Five | P50=Kurt Vonnegut; P364=English
Catch-22 | P50=Joseph Heller; P364=English
On the Road | P50=Jack Kerouac; P364=English
Little Women | P50=Louisa May Alcott; P364=English
Uncle Tom's Cabin | P50=Harriet Beecher Stowe; P364=English
The Scarlet Letter | P50=Nathaniel Hawthorne; P364=English
Walden | P50=Henry David Thoreau; P364=English
Leaves of Grass | P50=Walt Whitman; P364=English
Paradise Lost | P50=John Milton; P364=English
The Canterbury Tales | P50=Geoffrey Chaucer; P364=English
War and Peace | P50=Leo Tolstoy; P364=Russian
Anna Karenina | P50=Leo Tolstoy; P364=Russian
Crime and Punishment | P50=Fyodor Dostoevsky; P364=Russian
The Brothers Karamazov | P50=Fyodor Dostoevsky; P364=Russian
The Idiot | P50=Fyodor Dostoevsky; P364=Russian
Doctor Zhivago | P50=Boris Pasternak; P364=Russian
The Master and Margarita | P50=Mikhail Bulgakov; P364=Russian
Eugene Onegin | P50=Alexander Pushkin; P364=Russian
Dead Souls | P50=Nikolai Gogol; P364=Russian
Fathers and Sons | P50=Ivan Turgenev; P364=Russian
The Cherry Orchard | P50=Anton Chekhov; P364=Russian
The Seagull | P50=Anton Chekhov; P364=Russian
Madame Bovary | P50=Gustave Flaubert; P364=French
Les Miserables | P50=Victor Hugo; P364=French
The Hunchback of Notre-Dame | P50=Victor Hugo; P364=French
The Count of Monte Cristo | P50=Alexandre Dumas; P364=French
The Three Musketeers | P50=Alexandre Dumas; P364=French
The Stranger | P50=Albert Camus; P364=French
The Plague | P50=Albert Camus; P364=French
Candide | P50=Voltaire; P364=French
Twenty Thousand Leagues Under the Seas | P50=Jules Verne; P364=French
Around the World in Eighty Days | P50=Jules Verne; P364=French
Journey to the Center of the Earth | P50=Jules Verne; P364=French
The Phantom of the Opera | P50=Gaston Leroux; P364=French
Germinal | P50=Emile Zola; P364=French
Tartuffe | P50=Moliere; P364=French
Faust | P50=Johann Wolfgang von Goethe; P364=German
The Sorrows of Young Werther | P50=Johann Wolfgang von Goethe; P364=German
The Metamorphosis | P50=Franz Kafka; P364=German
The Trial | P50=Franz Kafka; P364=German
The Magic Mountain | P50=Thomas Mann; P364=German
Buddenbrooks | P50=Thomas Mann; P364=German
Steppenwolf | P50=Hermann Hesse; P364=German
Siddhartha | P50=Hermann Hesse; P364=German
All Quiet on the Western Front | P50=Erich Maria Remarque; P364=German
The Tin Drum | P50=Gunter Grass; P364=German
The Divine Comedy | P50=Dante Alighieri; P364=Italian
The Decameron | P50=Giovanni Boccaccio; P364=Italian
The Name of the Rose | P50=Umberto Eco; P364=Italian
The Prince | P50=Niccolo Machiavelli; P364=Italian
The Adventures of Pinocchio | P50=Carlo Collodi; P364=Italian
The Betrothed | P50=Alessandro Manzoni; P364=Italian
Don Quixote | P50=Miguel de Cervantes; P364=Spanish
One Hundred Years of Solitude | P50=Gabriel Garcia Marquez; P364=Spanish
Love in the Time of Cholera | P50=Gabriel Garcia Marquez; P364=Spanish
The House of the Spirits | P50=Isabel Allende; P364=Spanish
Ficciones | P50=Jorge Luis Borges; P364=Spanish
The Alchemist | P50=Paulo Coelho; P364=Portuguese
Blindness | P50=Jose Saramago; P364=Portuguese
Quo Vadis | P50=Henryk Sienkiewicz; P364=Polish
The Unbearable Lightness of Being | P50=Milan Kundera; P364=Czech
Norwegian Wood | P50=Haruki Murakami; P364=Japanese
Kafka on the Shore | P50=Haruki Murakami; P364=Japanese
The Tale of Genji | P50=Murasaki Shikibu; P364=Japanese
Dream of the Red Chamber | P50=Cao Xueqin; P364=Chinese
A Doll's House | P50=Henrik Ibsen
Peer Gynt | P50=Henrik Ibsen
Hedda Gabler | P50=Henrik Ibsen
Pippi Longstocking | P50=Astrid Lindgren; P364=Swedish
The Girl with the Dragon Tattoo | P50=Stieg Larsson; P364=Swedish
The Odyssey | P50=Homer; P364=Greek
The Iliad | P50=Homer; P364=Greek
"""

# Athletes: P641 sport ("soccer" = association football, "football" = American football,
# "hockey" = ice hockey), P27 citizenship, P19 place of birth, P103 native language.
ATHLETES = """
Lionel Messi | m | P641=soccer; P27=Argentina/Spain; P19=Rosario
Cristiano Ronaldo | m | P641=soccer; P27=Portugal; P19=Funchal
Neymar | m | P641=soccer; P27=Brazil
Kylian Mbappe | m | P641=soccer; P27=France; P19=Paris
Zinedine Zidane | m | P641=soccer; P27=France; P19=Marseille
Thierry Henry | m | P641=soccer; P27=France; P19=Paris
Pele | m | P641=soccer; P27=Brazil
Diego Maradona | m | P641=soccer; P27=Argentina
Ronaldinho | m | P641=soccer; P27=Brazil; P19=Porto Alegre
David Beckham | m | P641=soccer; P27=Britain; P19=London
Wayne Rooney | m | P641=soccer; P27=Britain; P19=Liverpool
Harry Kane | m | P641=soccer; P27=Britain; P19=London
Mohamed Salah | m | P641=soccer; P27=Egypt
Robert Lewandowski | m | P641=soccer; P27=Poland; P19=Warsaw
Luka Modric | m | P641=soccer; P27=Croatia; P19=Zadar
Andres Iniesta | m | P641=soccer; P27=Spain
Sergio Ramos | m | P641=soccer; P27=Spain
Xavi | m | P641=soccer; P27=Spain
Gianluigi Buffon | m | P641=soccer; P27=Italy; P19=Carrara
Francesco Totti | m | P641=soccer; P27=Italy; P19=Rome
Paolo Maldini | m | P641=soccer; P27=Italy; P19=Milan
Andrea Pirlo | m | P641=soccer; P27=Italy
Franz Beckenbauer | m | P641=soccer; P27=Germany; P19=Munich
Manuel Neuer | m | P641=soccer; P27=Germany; P19=Gelsenkirchen
Zlatan Ibrahimovic | m | P641=soccer; P27=Sweden; P19=Malmo
Erling Haaland | m | P641=soccer; P27=Norway/Britain; P19=Leeds
Kevin De Bruyne | m | P641=soccer; P27=Belgium
Eden Hazard | m | P641=soccer; P27=Belgium
Johan Cruyff | m | P641=soccer; P103=Dutch; P19=Amsterdam
Virgil van Dijk | m | P641=soccer; P103=Dutch
Arjen Robben | m | P641=soccer; P103=Dutch
Didier Drogba | m | P641=soccer; P19=Abidjan
Son Heung-min | m | P641=soccer; P27=South Korea
Luis Suarez | m | P641=soccer; P27=Uruguay; P19=Salto
Megan Rapinoe | f | P641=soccer; P27=America
Alex Morgan | f | P641=soccer; P27=America
Michael Jordan | m | P641=basketball; P27=America; P19=New York
LeBron James | m | P641=basketball; P27=America; P19=Akron
Kobe Bryant | m | P641=basketball; P27=America; P19=Philadelphia
Stephen Curry | m | P641=basketball; P27=America; P19=Akron
Kevin Durant | m | P641=basketball; P27=America; P19=Washington
Shaquille O'Neal | m | P641=basketball; P27=America; P19=Newark
Magic Johnson | m | P641=basketball; P27=America; P19=Lansing
Larry Bird | m | P641=basketball; P27=America
Kareem Abdul-Jabbar | m | P641=basketball; P27=America; P19=New York
Tim Duncan | m | P641=basketball; P27=America
Wilt Chamberlain | m | P641=basketball; P27=America; P19=Philadelphia
Bill Russell | m | P641=basketball; P27=America
Allen Iverson | m | P641=basketball; P27=America
Dwyane Wade | m | P641=basketball; P27=America; P19=Chicago
Dirk Nowitzki | m | P641=basketball; P27=Germany; P19=Wurzburg
Giannis Antetokounmpo | m | P641=basketball; P27=Greece/Nigeria; P19=Athens
Nikola Jokic | m | P641=basketball; P27=Serbia; P19=Sombor
Luka Doncic | m | P641=basketball; P27=Slovenia; P19=Ljubljana
Tony Parker | m | P641=basketball; P19=Bruges
Pau Gasol | m | P641=basketball; P27=Spain; P19=Barcelona
Yao Ming | m | P641=basketball; P27=China; P19=Shanghai
Roger Federer | m | P641=tennis; P27=Switzerland/South Africa; P19=Basel
Rafael Nadal | m | P641=tennis; P27=Spain; P19=Manacor
Novak Djokovic | m | P641=tennis; P27=Serbia; P19=Belgrade
Andy Murray | m | P641=tennis; P27=Britain; P19=Glasgow
Serena Williams | f | P641=tennis; P27=America; P19=Saginaw
Venus Williams | f | P641=tennis; P27=America
Maria Sharapova | f | P641=tennis; P27=Russia
Steffi Graf | f | P641=tennis; P27=Germany; P19=Mannheim
Boris Becker | m | P641=tennis; P27=Germany; P19=Leimen
Pete Sampras | m | P641=tennis; P27=America; P19=Washington
Andre Agassi | m | P641=tennis; P27=America; P19=Las Vegas
Bjorn Borg | m | P641=tennis; P27=Sweden
John McEnroe | m | P641=tennis; P27=America; P19=Wiesbaden
Carlos Alcaraz | m | P641=tennis; P27=Spain
Jannik Sinner | m | P641=tennis; P27=Italy
Naomi Osaka | f | P641=tennis; P27=Japan; P19=Osaka
Iga Swiatek | f | P641=tennis; P27=Poland; P19=Warsaw
Rod Laver | m | P641=tennis; P27=Australia; P19=Rockhampton
Ashleigh Barty | f | P641=tennis; P27=Australia
Kim Clijsters | f | P641=tennis; P27=Belgium
Justine Henin | f | P641=tennis; P27=Belgium
Daniil Medvedev | m | P641=tennis; P27=Russia; P19=Moscow
Stan Wawrinka | m | P641=tennis; P27=Switzerland
Billie Jean King | f | P641=tennis; P27=America
Arthur Ashe | m | P641=tennis; P27=America; P19=Richmond
Tiger Woods | m | P641=golf; P27=America
Jack Nicklaus | m | P641=golf; P27=America; P19=Columbus
Arnold Palmer | m | P641=golf; P27=America; P19=Latrobe
Phil Mickelson | m | P641=golf; P27=America; P19=San Diego
Gary Player | m | P641=golf; P27=South Africa; P19=Johannesburg
Seve Ballesteros | m | P641=golf; P27=Spain
Ernie Els | m | P641=golf; P27=South Africa; P19=Johannesburg
Scottie Scheffler | m | P641=golf; P27=America
Babe Ruth | m | P641=baseball; P27=America; P19=Baltimore
Derek Jeter | m | P641=baseball; P27=America
Shohei Ohtani | m | P641=baseball; P27=Japan
Ichiro Suzuki | m | P641=baseball; P27=Japan
Jackie Robinson | m | P641=baseball; P27=America
Hank Aaron | m | P641=baseball; P27=America; P19=Mobile
Willie Mays | m | P641=baseball; P27=America
Mickey Mantle | m | P641=baseball; P27=America
Lou Gehrig | m | P641=baseball; P27=America; P19=New York
Barry Bonds | m | P641=baseball; P27=America
Mike Trout | m | P641=baseball; P27=America
Aaron Judge | m | P641=baseball; P27=America
Joe DiMaggio | m | P641=baseball; P27=America
Ted Williams | m | P641=baseball; P27=America; P19=San Diego
Sandy Koufax | m | P641=baseball; P27=America; P19=New York
Tom Brady | m | P641=football; P27=America; P19=San Mateo
Peyton Manning | m | P641=football; P27=America; P19=New Orleans
Joe Montana | m | P641=football; P27=America
Jerry Rice | m | P641=football; P27=America
Patrick Mahomes | m | P641=football; P27=America; P19=Tyler
Aaron Rodgers | m | P641=football; P27=America; P19=Chico
Dan Marino | m | P641=football; P27=America; P19=Pittsburgh
Jim Brown | m | P641=football; P27=America
Walter Payton | m | P641=football; P27=America
Barry Sanders | m | P641=football; P27=America
John Elway | m | P641=football; P27=America
Brett Favre | m | P641=football; P27=America
Emmitt Smith | m | P641=football; P27=America
Lawrence Taylor | m | P641=football; P27=America
Wayne Gretzky | m | P641=hockey; P19=Brantford
Sidney Crosby | m | P641=hockey; P27=Canada; P19=Halifax
Connor McDavid | m | P641=hockey; P27=Canada; P19=Richmond Hill
Alexander Ovechkin | m | P641=hockey; P27=Russia; P19=Moscow
Bobby Orr | m | P641=hockey; P27=Canada
Mario Lemieux | m | P641=hockey; P19=Montreal
Evgeni Malkin | m | P641=hockey; P27=Russia
Maurice Richard | m | P641=hockey; P27=Canada; P19=Montreal
Sachin Tendulkar | m | P641=cricket; P27=India; P19=Mumbai
Virat Kohli | m | P641=cricket; P27=India; P19=Delhi
MS Dhoni | m | P641=cricket; P27=India; P19=Ranchi
Rohit Sharma | m | P641=cricket; P27=India
Don Bradman | m | P641=cricket; P27=Australia
Shane Warne | m | P641=cricket; P27=Australia; P19=Melbourne
Ricky Ponting | m | P641=cricket; P27=Australia
Jacques Kallis | m | P641=cricket; P27=South Africa; P19=Cape Town
Kumar Sangakkara | m | P641=cricket; P27=Sri Lanka
Muttiah Muralitharan | m | P641=cricket; P27=Sri Lanka; P19=Kandy
Wasim Akram | m | P641=cricket; P27=Pakistan; P19=Lahore
Babar Azam | m | P641=cricket; P27=Pakistan; P19=Lahore
Imran Khan | m | P641=cricket; P27=Pakistan; P19=Lahore
Joe Root | m | P641=cricket; P27=Britain; P19=Sheffield
Kane Williamson | m | P641=cricket; P27=New Zealand
"""

# Musicians: P1303 instrument, P136 genre, P27 citizenship, P103 native language, P19 birthplace.
MUSICIANS = """
Frederic Chopin | m | P1303=piano; P136=classical; P103=Polish
Franz Liszt | m | P1303=piano; P136=classical
Ludwig van Beethoven | m | P1303=piano; P136=classical; P103=German; P19=Bonn
Wolfgang Amadeus Mozart | m | P1303=piano/violin; P136=classical; P103=German; P19=Salzburg
Sergei Rachmaninoff | m | P1303=piano; P136=classical; P103=Russian
Glenn Gould | m | P1303=piano; P136=classical; P27=Canada; P19=Toronto
Lang Lang | m | P1303=piano; P136=classical; P27=China; P19=Shenyang
Vladimir Horowitz | m | P1303=piano; P136=classical
Herbie Hancock | m | P1303=piano; P136=jazz; P27=America; P19=Chicago
Thelonious Monk | m | P1303=piano; P136=jazz; P27=America
Duke Ellington | m | P1303=piano; P136=jazz; P27=America; P19=Washington
Oscar Peterson | m | P1303=piano; P136=jazz; P27=Canada; P19=Montreal
Dave Brubeck | m | P1303=piano; P136=jazz; P27=America
Bill Evans | m | P1303=piano; P136=jazz; P27=America
Chick Corea | m | P1303=piano; P136=jazz; P27=America
Art Tatum | m | P1303=piano; P136=jazz; P27=America
Elton John | m | P1303=piano; P136=pop/rock; P27=Britain
Billy Joel | m | P1303=piano; P27=America; P19=New York
Jimi Hendrix | m | P1303=guitar; P136=rock; P27=America; P19=Seattle
Eric Clapton | m | P1303=guitar; P136=rock/blues; P27=Britain
Jimmy Page | m | P1303=guitar; P136=rock; P27=Britain
Keith Richards | m | P1303=guitar; P136=rock; P27=Britain; P19=Dartford
David Gilmour | m | P1303=guitar; P136=rock; P27=Britain; P19=Cambridge
Jeff Beck | m | P1303=guitar; P136=rock; P27=Britain
Brian May | m | P1303=guitar; P136=rock; P27=Britain
Mark Knopfler | m | P1303=guitar; P136=rock; P27=Britain; P19=Glasgow
Pete Townshend | m | P1303=guitar; P136=rock; P27=Britain; P19=London
George Harrison | m | P1303=guitar; P136=rock; P27=Britain; P19=Liverpool
Chuck Berry | m | P1303=guitar; P136=rock; P27=America; P19=St. Louis
Kurt Cobain | m | P1303=guitar; P136=rock; P27=America
Eddie Van Halen | m | P1303=guitar; P136=rock; P19=Amsterdam
Slash | m | P1303=guitar; P136=rock
B. B. King | m | P1303=guitar; P136=blues; P27=America
Stevie Ray Vaughan | m | P1303=guitar; P136=blues; P27=America; P19=Dallas
Muddy Waters | m | P1303=guitar; P136=blues; P27=America
John Lee Hooker | m | P1303=guitar; P136=blues; P27=America
Buddy Guy | m | P1303=guitar; P136=blues; P27=America
Niccolo Paganini | m | P1303=violin; P136=classical; P103=Italian; P19=Genoa
Antonio Vivaldi | m | P1303=violin; P136=classical; P103=Italian; P19=Venice
Itzhak Perlman | m | P1303=violin; P136=classical; P19=Tel Aviv
Yehudi Menuhin | m | P1303=violin; P136=classical; P19=New York
Joshua Bell | m | P1303=violin; P136=classical; P27=America
Anne-Sophie Mutter | f | P1303=violin; P136=classical; P27=Germany
Hilary Hahn | f | P1303=violin; P136=classical; P27=America
Jascha Heifetz | m | P1303=violin; P136=classical; P19=Vilnius
Yo-Yo Ma | m | P1303=cello; P136=classical; P27=America/France; P19=Paris
Pablo Casals | m | P1303=cello; P136=classical
Mstislav Rostropovich | m | P1303=cello; P136=classical
Ringo Starr | m | P1303=drums; P136=rock; P27=Britain; P19=Liverpool
John Bonham | m | P1303=drums; P136=rock; P27=Britain
Keith Moon | m | P1303=drums; P136=rock; P27=Britain; P19=London
Charlie Watts | m | P1303=drums; P136=rock; P27=Britain; P19=London
Ginger Baker | m | P1303=drums; P136=rock; P27=Britain; P19=London
Neil Peart | m | P1303=drums; P136=rock; P27=Canada
Stewart Copeland | m | P1303=drums; P136=rock; P27=America
Buddy Rich | m | P1303=drums; P136=jazz; P27=America
Art Blakey | m | P1303=drums; P136=jazz; P27=America; P19=Pittsburgh
Max Roach | m | P1303=drums; P136=jazz; P27=America
John Coltrane | m | P1303=saxophone; P136=jazz; P27=America
Charlie Parker | m | P1303=saxophone; P136=jazz; P27=America; P19=Kansas City
Sonny Rollins | m | P1303=saxophone; P136=jazz; P27=America; P19=New York
Stan Getz | m | P1303=saxophone; P136=jazz; P27=America; P19=Philadelphia
Kenny G | m | P1303=saxophone; P136=jazz; P27=America; P19=Seattle
Wayne Shorter | m | P1303=saxophone; P136=jazz; P27=America; P19=Newark
Coleman Hawkins | m | P1303=saxophone; P136=jazz; P27=America
Cannonball Adderley | m | P1303=saxophone; P136=jazz; P27=America
Lester Young | m | P1303=saxophone; P136=jazz; P27=America
Ornette Coleman | m | P1303=saxophone; P136=jazz; P27=America
Louis Armstrong | m | P1303=trumpet; P136=jazz; P27=America; P19=New Orleans
Miles Davis | m | P1303=trumpet; P136=jazz; P27=America
Dizzy Gillespie | m | P1303=trumpet; P136=jazz; P27=America
Chet Baker | m | P1303=trumpet; P136=jazz; P27=America
Wynton Marsalis | m | P1303=trumpet; P136=jazz; P27=America; P19=New Orleans
Clifford Brown | m | P1303=trumpet; P136=jazz; P27=America
Freddie Hubbard | m | P1303=trumpet; P136=jazz; P27=America
Paul McCartney | m | P1303=bass; P136=rock; P27=Britain; P19=Liverpool
Jaco Pastorius | m | P1303=bass; P136=jazz; P27=America
Geddy Lee | m | P1303=bass; P136=rock; P27=Canada; P19=Toronto
Sting | m | P1303=bass; P136=rock/pop; P27=Britain
John Entwistle | m | P1303=bass; P136=rock; P27=Britain; P19=London
Charles Mingus | m | P1303=bass; P136=jazz; P27=America
Ron Carter | m | P1303=bass; P136=jazz; P27=America
Flea | m | P1303=bass; P136=rock; P19=Melbourne
Johann Sebastian Bach | m | P1303=organ; P136=classical; P103=German; P19=Eisenach
Jimmy Smith | m | P1303=organ; P136=jazz; P27=America
"""

# Scientists and thinkers.  "@field" expands to P101=field; P106=<occupation of field>.
FIELD_OCCUPATION = {
    "physics": "physicist", "chemistry": "chemist", "mathematics": "mathematician",
    "biology": "biologist", "astronomy": "astronomer", "economics": "economist",
    "philosophy": "philosopher", "psychology": "psychologist",
    "computer science": "computer scientist",
}
SCIENTISTS = """
Albert Einstein | m | @physics; P103=German; P19=Ulm
Isaac Newton | m | P101=physics/mathematics/astronomy; P106=physicist/mathematician/astronomer; P103=English
Niels Bohr | m | @physics; P103=Danish; P19=Copenhagen
Max Planck | m | @physics; P103=German; P19=Kiel
Werner Heisenberg | m | @physics; P103=German; P19=Wurzburg
Enrico Fermi | m | @physics; P103=Italian; P19=Rome
Richard Feynman | m | @physics; P27=America; P19=New York
Paul Dirac | m | @physics; P103=English; P19=Bristol
Michael Faraday | m | P101=physics/chemistry; P106=physicist/chemist; P103=English; P19=London
James Clerk Maxwell | m | @physics; P103=English; P19=Edinburgh
Marie Curie | f | P101=physics/chemistry; P106=physicist/chemist; P103=Polish; P19=Warsaw
Stephen Hawking | m | @physics; P27=Britain; P19=Oxford
Galileo Galilei | m | P101=physics/astronomy/mathematics; P106=physicist/astronomer/mathematician; P103=Italian; P19=Pisa
J. Robert Oppenheimer | m | @physics; P27=America; P19=New York
Wolfgang Pauli | m | @physics; P103=German; P19=Vienna
Lise Meitner | f | @physics; P103=German; P19=Vienna
Hendrik Lorentz | m | @physics; P103=Dutch; P19=Arnhem
Heinrich Hertz | m | @physics; P103=German; P19=Hamburg
Alessandro Volta | m | P101=physics/chemistry; P106=physicist/chemist; P103=Italian; P19=Como
Ludwig Boltzmann | m | @physics; P103=German; P19=Vienna
Max Born | m | @physics; P103=German
Ernest Rutherford | m | @physics; P103=English
Steven Weinberg | m | @physics; P27=America; P19=New York
Murray Gell-Mann | m | @physics; P27=America; P19=New York
Dmitri Mendeleev | m | @chemistry; P103=Russian; P19=Tobolsk
Antoine Lavoisier | m | @chemistry; P103=French; P19=Paris
Linus Pauling | m | @chemistry; P27=America; P19=Portland
Robert Boyle | m | P101=chemistry/physics; P106=chemist/physicist; P103=English
John Dalton | m | P101=chemistry/physics; P106=chemist/physicist; P103=English
Alfred Nobel | m | @chemistry; P103=Swedish; P19=Stockholm
Humphry Davy | m | @chemistry; P103=English
Fritz Haber | m | @chemistry; P103=German
Dorothy Hodgkin | f | @chemistry; P103=English; P19=Cairo
Rosalind Franklin | f | @chemistry; P103=English; P19=London
Amedeo Avogadro | m | P101=chemistry/physics; P106=chemist/physicist; P103=Italian; P19=Turin
Robert Bunsen | m | @chemistry; P103=German
Svante Arrhenius | m | P101=chemistry/physics; P106=chemist/physicist; P103=Swedish
Glenn Seaborg | m | @chemistry; P27=America
Carl Friedrich Gauss | m | P101=mathematics/physics/astronomy; P106=mathematician/physicist/astronomer; P103=German; P19=Brunswick
Leonhard Euler | m | P101=mathematics/physics; P106=mathematician/physicist; P103=German; P19=Basel
Bernhard Riemann | m | @mathematics; P103=German
David Hilbert | m | @mathematics; P103=German
Georg Cantor | m | @mathematics; P103=German; P19=Saint Petersburg
Srinivasa Ramanujan | m | @mathematics; P103=Tamil
Pierre de Fermat | m | @mathematics; P103=French
Emmy Noether | f | @mathematics; P103=German; P19=Erlangen
Niels Henrik Abel | m | @mathematics; P103=Norwegian
Joseph Fourier | m | P101=mathematics/physics; P106=mathematician/physicist; P103=French
Pierre-Simon Laplace | m | P101=mathematics/astronomy/physics; P106=mathematician/astronomer/physicist; P103=French
Joseph-Louis Lagrange | m | P101=mathematics/astronomy; P106=mathematician/astronomer; P103=Italian; P19=Turin
Augustin-Louis Cauchy | m | @mathematics; P103=French; P19=Paris
Andrew Wiles | m | @mathematics; P27=Britain; P19=Cambridge
Grigori Perelman | m | @mathematics; P103=Russian; P19=Saint Petersburg
Euclid | m | @mathematics; P103=Greek
Ada Lovelace | f | @mathematics; P103=English; P19=London
George Boole | m | @mathematics; P103=English; P19=Lincoln
John Nash | m | P101=mathematics/economics; P106=mathematician; P27=America
Alan Turing | m | P101=mathematics/computer science; P106=mathematician/computer scientist; P27=Britain; P19=London
Charles Darwin | m | @biology; P103=English; P19=Shrewsbury
Gregor Mendel | m | @biology; P103=German
Alfred Russel Wallace | m | @biology; P103=English
Carl Linnaeus | m | @biology; P103=Swedish
James Watson | m | @biology; P27=America; P19=Chicago
Francis Crick | m | @biology; P27=Britain; P19=Northampton
Rachel Carson | f | @biology; P27=America
Ernst Mayr | m | @biology; P103=German
Richard Dawkins | m | @biology; P27=Britain; P19=Nairobi
E. O. Wilson | m | @biology; P27=America
Barbara McClintock | f | @biology; P27=America
Thomas Hunt Morgan | m | @biology; P27=America
Johannes Kepler | m | P101=astronomy/mathematics; P106=astronomer/mathematician; P103=German
Nicolaus Copernicus | m | P101=astronomy/mathematics; P106=astronomer/mathematician; P19=Torun
Edwin Hubble | m | @astronomy; P27=America
Carl Sagan | m | @astronomy; P27=America; P19=New York
Tycho Brahe | m | @astronomy; P103=Danish
William Herschel | m | @astronomy; P103=German; P19=Hanover
Edmond Halley | m | @astronomy; P103=English; P19=London
Vera Rubin | f | @astronomy; P27=America; P19=Philadelphia
Henrietta Swan Leavitt | f | @astronomy; P27=America
Annie Jump Cannon | f | @astronomy; P27=America
Giovanni Cassini | m | @astronomy; P103=Italian
Clyde Tombaugh | m | @astronomy; P27=America
Adam Smith | m | P101=economics/philosophy; P106=economist/philosopher; P103=English
John Maynard Keynes | m | @economics; P27=Britain; P19=Cambridge
Milton Friedman | m | @economics; P27=America; P19=New York
David Ricardo | m | @economics; P103=English; P19=London
Friedrich Hayek | m | @economics; P103=German; P19=Vienna
Paul Samuelson | m | @economics; P27=America
Joseph Schumpeter | m | @economics; P103=German
Amartya Sen | m | P101=economics/philosophy; P106=economist/philosopher; P103=Bengali
Thomas Malthus | m | @economics; P103=English
Alfred Marshall | m | @economics; P103=English; P19=London
Paul Krugman | m | @economics; P27=America
Joseph Stiglitz | m | @economics; P27=America
Thomas Piketty | m | @economics; P103=French
Ben Bernanke | m | @economics; P27=America
Kenneth Arrow | m | @economics; P27=America; P19=New York
Plato | m | @philosophy; P103=Greek
Aristotle | m | @philosophy; P103=Greek
Socrates | m | @philosophy; P103=Greek; P19=Athens
Immanuel Kant | m | @philosophy; P103=German
Friedrich Nietzsche | m | @philosophy; P103=German
Confucius | m | @philosophy; P103=Chinese
Georg Wilhelm Friedrich Hegel | m | @philosophy; P103=German; P19=Stuttgart
John Locke | m | @philosophy; P103=English
David Hume | m | P101=philosophy/economics/history; P106=philosopher/economist/historian; P103=English; P19=Edinburgh
Thomas Hobbes | m | @philosophy; P103=English
Jean-Paul Sartre | m | @philosophy; P103=French; P19=Paris
Baruch Spinoza | m | @philosophy; P19=Amsterdam
Arthur Schopenhauer | m | @philosophy; P103=German
Ludwig Wittgenstein | m | @philosophy; P103=German; P19=Vienna
Bertrand Russell | m | P101=philosophy/mathematics; P106=philosopher/mathematician; P27=Britain
John Stuart Mill | m | P101=philosophy/economics; P106=philosopher/economist; P103=English; P19=London
Martin Heidegger | m | @philosophy; P103=German
Simone de Beauvoir | f | @philosophy; P103=French; P19=Paris
Jean-Jacques Rousseau | m | @philosophy; P103=French; P19=Geneva
Karl Popper | m | @philosophy; P103=German; P19=Vienna
Michel Foucault | m | @philosophy; P103=French
Hannah Arendt | f | @philosophy; P103=German
Rene Descartes | m | P101=philosophy/mathematics; P106=philosopher/mathematician; P103=French
Voltaire | m | P101=philosophy/literature; P106=philosopher/writer; P103=French; P19=Paris
Sigmund Freud | m | P101=psychology/psychoanalysis/neurology; P103=German
Carl Jung | m | P101=psychology/psychiatry; P103=German
B. F. Skinner | m | @psychology; P27=America
Jean Piaget | m | @psychology; P103=French
William James | m | P101=psychology/philosophy; P106=psychologist/philosopher; P27=America; P19=New York
Wilhelm Wundt | m | @psychology; P103=German
Abraham Maslow | m | @psychology; P27=America; P19=New York
Daniel Kahneman | m | P101=psychology/economics; P106=psychologist; P19=Tel Aviv
Carl Rogers | m | @psychology; P27=America
Stanley Milgram | m | @psychology; P27=America; P19=New York
Erik Erikson | m | @psychology; P103=German; P19=Frankfurt
Tim Berners-Lee | m | @computer science; P27=Britain; P19=London
Donald Knuth | m | P101=computer science/mathematics; P106=computer scientist/mathematician; P27=America; P19=Milwaukee
Dennis Ritchie | m | @computer science; P27=America
Ken Thompson | m | @computer science; P27=America; P19=New Orleans
Grace Hopper | f | @computer science; P27=America; P19=New York
Edsger Dijkstra | m | @computer science; P103=Dutch; P19=Rotterdam
John McCarthy | m | @computer science; P27=America; P19=Boston
Guido van Rossum | m | @computer science; P103=Dutch; P19=Haarlem
Bjarne Stroustrup | m | @computer science; P103=Danish; P19=Aarhus
Barbara Liskov | f | @computer science; P27=America
Geoffrey Hinton | m | @computer science; P27=Britain/Canada; P19=London
Yann LeCun | m | @computer science; P103=French
Yoshua Bengio | m | @computer science; P103=French; P19=Paris
Linus Torvalds | m | P103=Swedish; P19=Helsinki
"""

# Personal pronouns / descriptions used when a document refers back to its subject.
KIND_DESCRIPTIONS = {
    "country": ["The country", "This country"],
    "city": ["The city", "This city"],
    "landmark": ["The landmark", "This famous place"],
    "company": ["The company", "This brand"],
    "product": ["The product", "This product"],
    "car": ["The car", "This model"],
    "show": ["The show", "The series"],
    "book": ["The work", "The book"],
    "athlete": ["The athlete", "The player"],
    "musician": ["The musician", "The artist"],
    "scientist": ["The scholar", "The researcher"],
}

# =============================================================================================
# Filler text: generic English about weather, travel, daily life, nature, food, work, and small
# stories.  Character-bound slots: {N} name, {P}/{p} He/he, {O} His/his (possessive, lower),
# {o} him/her.  Other slots draw from the word lists below.
# =============================================================================================

FEMALE_NAMES = ["Anna", "Maria", "Sophie", "Lucy", "Clara", "Nora", "Alice", "Julia", "Laura",
                "Mia", "Olivia", "Grace", "Ella", "Hannah", "Rosa", "Sara", "Lena", "Ida", "Eva",
                "Nina", "Ruth", "Amira", "Priya", "Yuki", "Elena", "Chloe", "Isla", "Zoe", "Mila",
                "Helen", "Martha", "Jenny", "Kate", "Lisa", "Tara"]
MALE_NAMES = ["Tom", "James", "Peter", "David", "Daniel", "Samuel", "Lucas", "Oliver", "Henry",
              "Jack", "Leo", "Adam", "Martin", "Paul", "Victor", "Oscar", "Hugo", "Felix",
              "Simon", "Noah", "Ben", "Ethan", "Max", "Ivan", "Omar", "Ravi", "Kenji", "Marco",
              "Diego", "Carl", "Frank", "Sam", "Joe", "Nick", "Alan"]

WORDS = {
    "place": ["the park", "the market", "the library", "the station", "the harbour",
              "the village square", "the beach", "the bakery", "the museum", "the school",
              "the post office", "the cafe", "the old bridge", "the forest path", "the garden",
              "the hospital", "the bus stop", "the river bank", "the farm", "the hill",
              "the lake", "the bookshop", "the town hall", "the cinema", "the hotel",
              "the supermarket", "the swimming pool", "the playground", "the church",
              "the corner shop", "the train platform", "the pier", "the orchard"],
    "TIME": ["In the morning", "Early on Monday", "Later that day", "On Saturday",
             "Last winter", "One evening", "At noon", "After breakfast", "Before sunset",
             "During the holidays", "Every Sunday", "Last week", "Yesterday",
             "The next morning", "In the afternoon", "Late at night", "On Tuesday",
             "Last summer", "One rainy day", "A few days later", "At the weekend",
             "Early in the spring", "On a quiet Thursday"],
    "time": ["in the morning", "on Monday", "later that day", "on Saturday", "last winter",
             "one evening", "at noon", "after breakfast", "before sunset", "last week",
             "yesterday", "the next morning", "in the afternoon", "on Friday",
             "last summer", "at the weekend", "early in the day", "after lunch"],
    "wadj": ["cold", "warm", "windy", "grey", "bright", "cloudy", "foggy", "humid", "mild",
             "chilly", "sunny", "stormy", "dry", "wet", "calm", "clear", "fresh", "hot"],
    "season": ["spring", "summer", "autumn", "winter"],
    "landscape": ["hills", "valley", "fields", "coast", "mountains", "meadow", "forest",
                  "river", "lake", "town", "harbour", "farmland", "old streets", "bay",
                  "countryside", "cliffs"],
    "activity": ["reading", "cooking", "gardening", "walking in the hills", "cycling",
                 "painting", "fishing", "swimming", "knitting", "dancing", "singing",
                 "hiking", "running", "baking bread", "writing letters", "playing chess",
                 "visiting friends", "repairing old furniture", "taking photographs",
                 "watching films", "doing puzzles", "learning to draw"],
    "object": ["an umbrella", "a basket of apples", "a red scarf", "an old map",
               "a wooden box", "a notebook", "a loaf of bread", "a letter", "a camera",
               "a kite", "a warm coat", "a suitcase", "a lamp", "a blue bag",
               "a bunch of flowers", "a small radio", "a pair of boots", "a jar of honey",
               "a heavy parcel", "a folding chair", "a bag of oranges", "a new hat"],
    "food": ["soup", "bread", "rice", "pasta", "salad", "apple pie", "fish", "vegetables",
             "cheese", "eggs", "pancakes", "potatoes", "beans", "chicken", "carrots", "cake",
             "noodles", "porridge", "stew", "sandwiches", "strawberries", "biscuits"],
    "drink": ["tea", "coffee", "lemonade", "hot chocolate", "orange juice", "water", "milk",
              "apple juice"],
    "animal_s": ["birds", "ducks", "cows", "sheep", "cats", "dogs", "geese", "squirrels",
                 "goats", "bees", "butterflies", "frogs", "pigeons", "chickens", "swans",
                 "seagulls"],
    "animal_action": ["gathered", "rested", "wandered", "played", "searched for food",
                      "made a lot of noise", "slept in the sun", "moved slowly"],
    "vehicle": ["train", "bus", "ferry", "plane", "car", "taxi", "boat", "tram", "night train"],
    "feeling": ["happy", "tired", "calm", "excited", "nervous", "proud", "curious", "hungry",
                "sleepy", "cheerful", "worried", "relieved", "surprised", "thoughtful"],
    "job": ["teacher", "baker", "nurse", "farmer", "driver", "carpenter", "gardener", "doctor",
            "shopkeeper", "fisherman", "painter", "librarian", "postman", "waiter", "cook",
            "mechanic", "tailor", "pharmacist"],
    "relative": ["grandmother", "grandfather", "aunt", "uncle", "cousin", "sister", "brother",
                 "mother", "father", "neighbour"],
    "topic": ["the weather", "their plans for the summer", "an old film", "the new school",
              "the price of vegetables", "a book they had both read", "the village festival",
              "the garden", "a trip to the sea", "the football match", "their childhood",
              "the repairs on the road", "a recipe for soup", "the coming winter"],
    "skycolor": ["dark", "pink and orange", "deep blue", "grey", "full of stars", "golden"],
    "num_word": ["two", "three", "four", "five", "six", "ten", "twenty", "thirty", "forty"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "sight": ["old cathedral", "main square", "central station", "harbour", "city museum",
              "flower market", "river front", "old town", "botanical garden", "castle walls",
              "clock tower", "fish market"],
    "crowd": ["tourists", "families", "students", "shoppers", "cyclists", "street musicians",
              "children", "commuters"],
    "view": ["sunset", "fields of wheat", "boats in the harbour", "snowy mountains",
             "old houses", "clouds over the sea", "lights of the town", "autumn leaves"],
    "pet": ["cat", "dog", "rabbit", "goldfish", "parrot", "hamster"],
    "game": ["football", "hide and seek", "tag", "cards", "marbles", "with a ball"],
    "broken": ["broken chair", "old fence", "kitchen tap", "bicycle chain", "garden gate",
               "torn curtain", "squeaky door"],
    "tree": ["oak", "birch", "apple", "willow", "pine", "chestnut", "maple", "cherry"],
    "treestate": ["full of leaves", "bare", "covered in blossom", "turning yellow", "heavy with fruit"],
    "flower_s": ["daisies", "poppies", "wild flowers", "buttercups", "bluebells", "clover"],
    "water": ["clear", "dark green", "cold", "still", "silver in the light"],
    "dish": ["vegetable soup", "a simple stew", "fresh pasta", "a fruit salad", "pancakes",
             "a potato pie", "bread rolls"],
    "ingredient": ["flour", "butter", "eggs", "milk", "onions", "carrots", "tomatoes",
                   "sugar", "garlic", "lentils", "cream", "apples"],
    "produce": ["apples", "pears", "tomatoes", "cabbages", "plums", "cherries", "peppers",
                "mushrooms", "lemons"],
    "precip": ["rain", "snow", "showers", "a storm", "hail", "drizzle"],
    "daypart": ["morning", "afternoon", "evening", "night"],
    "task": ["the shopping", "the heavy boxes", "the garden", "the homework", "the painting",
             "the washing", "the dishes"],
    "plan": ["visit the coast", "paint the kitchen", "learn to swim", "plant tomatoes",
             "clean the attic", "start a diary", "bake a cake for the neighbours",
             "walk to the next village"],
    "dream": ["the sea", "flying over the hills", "a house full of books", "a long journey",
              "summer holidays", "an old friend"],
    "story_topic": ["brave animals", "lost treasure", "talking trees", "long journeys",
                    "friendly giants", "small villages", "the sea"],
    "building": ["library", "bakery", "school", "bridge", "museum", "station", "market hall"],
    "material": ["stone", "brick", "wood", "glass"],
    "colour": ["red", "green", "white", "yellow", "blue", "brown"],
}

STORY_OPEN = [
    "{TIME}, {N} walked to {place} to buy {food}.",
    "{TIME}, {N} went to {place} with {O} {relative}.",
    "{N} had always liked {activity}.",
    "{TIME}, {N} woke up early and looked out of the window.",
    "{N} lived in a small house near {place}.",
    "{TIME}, {N} decided to spend the day {activity}.",
    "{N} was a {job} who lived at the edge of the town.",
]
STORY_MID = [
    "{P} met {N2} near {place}, and they talked about {topic}.",
    "{P} was feeling {feeling} because the day had started so well.",
    "The {animal_s} near {place} made {o} smile.",
    "{N} carried {object} all the way home.",
    "After a while, {p} sat down on a bench and watched the {crowd}.",
    "{N2} offered to help {o} with {task}.",
    "They laughed, said goodbye, and went their separate ways.",
    "{P} made a cup of {drink} and opened a book about {story_topic}.",
    "{N}'s neighbour, an old {job}, waved from across the street.",
    "{P} remembered that {O} {relative} used to live near {place}.",
    "It took {o} {num_word} minutes to find {object} again.",
    "The {job} at {place} told {o} that the parcel would arrive on {weekday}.",
    "On the way back, {p} stopped to look at the {view}.",
    "{N} wrote a short letter to {O} {relative}.",
    "{P} was surprised to see how many people were at {place}.",
    "The smell of fresh {food} filled the kitchen.",
    "{P} bought {object} and a little {food} for dinner.",
    "A light {precip} began to fall, so {p} walked a little faster.",
    "{N2} told {o} a funny story about {topic}.",
    "{P} felt {feeling} and a little {feeling2}.",
    "The road was quiet, and only a few {animal_s} could be seen.",
    "{P} spent an hour {activity} before lunch.",
    "{N} and {N2} shared {food} and a pot of {drink}.",
    "{P} noticed that the {tree} trees were {treestate}.",
    "There was a small {building} made of {material} at the end of the street.",
    "{P} asked {N2} for directions to {place}.",
    "Everyone agreed that it had been a good day.",
]
STORY_CLOSE = [
    "By the time {p} got home, the sky was {skycolor}.",
    "That night {N} slept well and dreamed of {dream}.",
    "{N} decided to {plan} the next weekend.",
    "{P} went to bed early, tired but {feeling}.",
    "It had been a long day, and {N} was glad to be home.",
    "The next day, {p} told {O} {relative} all about it.",
]
WEATHER = [
    "{TIME}, the weather was {wadj} and {wadj2}.",
    "A {wadj} wind blew across the {landscape}.",
    "The forecast said there would be {precip} later in the {daypart}.",
    "In {season}, the days can be {wadj} and the nights {wadj2}.",
    "Clouds gathered over the {landscape} before noon.",
    "By evening the rain had stopped and the streets were shining.",
    "The temperature dropped quickly after sunset.",
    "Many people stayed indoors because of the {precip}.",
    "Farmers were glad to see the rain after weeks of dry weather.",
    "Snow covered the {landscape} like a white blanket.",
    "The sun came out in the {daypart} and dried the wet roads.",
    "Thunder rolled in the distance, and the {animal_s} hurried for shelter.",
    "The sky over the {landscape} was {skycolor}.",
    "It was a {wadj} {season} day, and the air smelled of {smell}.",
    "A thick fog covered the {landscape} until the late morning.",
    "Light {precip} is expected in the {daypart}, with {wadj} weather afterwards.",
    "The {season} had been {wadj} this year, and the rivers were {riverstate}.",
    "People carried umbrellas, although the {precip} never came.",
]
TRAVEL = [
    "{N} took the {vehicle} to {CITY} {time}.",
    "The journey took about {num_word} hours.",
    "{P} stayed in a small hotel near the {sight}.",
    "From the window of the {vehicle}, {p} could see the {view}.",
    "The streets were busy with {crowd}.",
    "{N} bought a map and a few postcards at a small shop.",
    "A friendly {job} explained the way to the {sight}.",
    "In the evening {p} ate {food} at a quiet restaurant.",
    "{P} took many photographs of the {sight}.",
    "The trip back home was long but pleasant.",
    "{N} promised to come back one day.",
    "The {vehicle} was late, so {p} waited with a cup of {drink}.",
    "{P} walked for hours and saw the {sight} and the {view}.",
    "The hotel room was small, but it had a view of the {view}.",
    "On the second day, {N} met a {job} who knew every street of the town.",
    "{N} sent a postcard to {O} {relative} from {CITY}.",
]
HOME = [
    "{N} woke up early and opened the windows.",
    "{P} cleaned the kitchen, watered the plants and fed the {pet}.",
    "For breakfast {p} had {food} and a glass of {drink}.",
    "Later, {p} worked in the garden until lunch.",
    "{N} spent the afternoon {activity}.",
    "In the evening the family ate {food} together.",
    "The children played {game} in the yard.",
    "{P} read the newspaper while the radio played quietly.",
    "The house was quiet except for the ticking of the clock.",
    "{N} fixed the {broken} with some tape and a little patience.",
    "{P} put {object} on the table by the door.",
    "The {pet} slept all afternoon on the warm windowsill.",
    "{N} called {O} {relative} to ask about the weekend.",
    "{P} made a list of things to buy: {food}, {food2} and some {drink}.",
    "After dinner, everyone sat together and talked about {topic}.",
]
NATURE = [
    "The {animal_s} {animal_action} in the {landscape}.",
    "The {tree} trees along the river were {treestate}.",
    "A small stream ran through the {landscape}.",
    "In {season}, the meadow is full of {flower_s}.",
    "Birds sang in the branches above the path.",
    "The lake was calm, and the water was {water}.",
    "An old {tree} tree stood alone at the top of the hill.",
    "The path climbed slowly towards the {landscape}.",
    "Bees moved from flower to flower in the warm air.",
    "Leaves covered the ground after the {wadj} night.",
    "The river was wide and slow near the old mill.",
    "At dawn, the {animal_s} were the first to wake.",
]
FOOD = [
    "To make {dish}, you need {ingredient}, {ingredient2} and a pinch of salt.",
    "{N} baked a cake for {O} friends.",
    "The market sold fresh {produce} and warm bread.",
    "A simple meal of {food} and {food2} can be very satisfying.",
    "First, cut the {produce} into small pieces.",
    "Then cook everything slowly for about {num_word} minutes.",
    "The soup tastes better on the second day.",
    "Fresh {produce} are cheapest at the end of the summer.",
    "Many families eat {food} on {weekday} evenings.",
    "{N} likes {food} with a little butter and salt.",
]
WORK = [
    "{N} works as a {job} in a small town.",
    "Every morning {p} takes the {vehicle} to work.",
    "The teacher asked the children to write a story about {story_topic}.",
    "{N} finished the report just before the meeting.",
    "The office was closed on {weekday} because of a holiday.",
    "{P} has worked at the same place for {num_word} years.",
    "The {job} opened the shop at eight and closed it at six.",
    "Most of the customers came in the {daypart}.",
    "{N} learned a lot from an older {job} at work.",
    "During the break, {p} had {food} and a cup of {drink}.",
]
ESSAY = [
    "Walking is a simple way to stay healthy.",
    "Many people enjoy {activity} at the weekend.",
    "A good breakfast gives you energy for the whole morning.",
    "Reading before bed helps some people relax.",
    "Old bridges often tell the story of a town.",
    "Learning a new skill takes time and patience.",
    "In many towns, the market is busiest on {weekday} mornings.",
    "A warm coat is useful when the {season} wind is cold.",
    "Gardens need water, sunlight and care.",
    "Small shops are an important part of village life.",
    "Libraries offer books, newspapers and a quiet place to study.",
    "Trains are a comfortable way to travel between cities.",
    "Children love stories about {story_topic}.",
    "A long walk in the {landscape} can clear the mind.",
    "Most people sleep better when the room is cool and dark.",
    "Good neighbours help each other in difficult times.",
    "Cooking at home is often cheaper than eating out.",
    "A letter written by hand feels more personal than a message.",
    "Every season has its own colours and smells.",
    "It is easier to learn when you are rested.",
    "Planting a tree is a gift for the next generation.",
    "Music and conversation make a long evening pass quickly.",
    "Some towns have a festival every {season}.",
    "The best way to know a place is to walk its streets.",
]
WORDS["smell"] = ["rain", "cut grass", "wood smoke", "the sea", "flowers", "fresh bread"]
WORDS["riverstate"] = ["high", "low", "full", "calm"]
CHARACTER_SLOTS = ("{N}", "{N2}", "{P}", "{p}", "{O}", "{o}")
STANDALONE = [t for t in WEATHER + NATURE + ESSAY
              if not any(c in t for c in CHARACTER_SLOTS)]
FILLER_KINDS = ["story", "story", "story", "weather", "travel", "travel", "home", "home",
                "nature", "food", "work", "essay", "essay"]

# Neutral sentences that mention a subject without stating a fact (subject mention: {S}).
NEUTRAL = {
    "country": ["Many travellers have written about {S}.", "{S} has a long and interesting history.",
                "Every year, visitors arrive in {S} from all over the world."],
    "city": ["{S} is busy on most days of the year.", "Many travellers have written about {S}.",
             "The streets of {S} are full of life in the summer."],
    "landmark": ["{S} is photographed by thousands of visitors.", "{S} is a famous sight.",
                 "People queue for hours to see {S}."],
    "company": ["{S} is well known to many customers.", "{S} is often in the news.",
                "Many people have heard of {S}."],
    "product": ["{S} is used by many people.", "{S} is widely known.",
                "Many people have heard of {S}."],
    "car": ["{S} is a popular car.", "{S} can be seen on many roads.",
            "Many drivers have owned {S}."],
    "show": ["{S} is a well-known television series.", "Many viewers remember {S}.",
             "{S} had a large audience."],
    "book": ["{S} is read by many students.", "{S} is a famous work.",
             "Many readers remember {S}."],
    "athlete": ["{S} is admired by many fans.", "{S} had a remarkable career.",
                "Many young people look up to {S}."],
    "musician": ["{S} is admired by many listeners.", "{S} had a remarkable career.",
                 "Many people know the music of {S}."],
    "scientist": ["{S} is remembered as a great mind.", "{S} wrote many important works.",
                  "Students still read about {S}."],
}
INTROS = ["Here is a short profile of {s}.", "This article is about {s}.",
          "Let us learn a few facts about {s}.", "Some facts about {s} follow.",
          "The following text describes {s}.", "We now turn to {s}.",
          "A few words about {s}.", "This note is about {s}."]
PREFIXES = ["It is well known that ", "Most people know that ", "According to the encyclopedia, ",
            "As the guidebook explains, ", "In fact, ", "Few people remember that ",
            "The teacher explained that ", "Our notes say that ", "Many visitors learn that ",
            "Every student learns that ", "As everyone knows, ", "The article notes that ",
            "A quick search shows that ", "Reporters often mention that ", "It is true that ",
            "We read that ", "Historians agree that ", "It turns out that ",
            "My friend told me that ", "The book says that ", "For the record, ", "Of course, ",
            "Interestingly, ", "Not everyone knows that ", "The quiz answer was simple: ",
            "Many tourists know that ", "Everybody at school learned that ",
            "The old encyclopedia confirms that ", "Yesterday I learned that ",
            "The radio host mentioned that "]
NARRATIVE_PREFIXES = ["During the trip, the guide explained that ",
                      "Later, {N} read in a magazine that ",
                      "On the radio, someone said that ",
                      "At dinner, {N} mentioned that ",
                      "In class, the teacher reminded everyone that ",
                      "While waiting for the {vehicle}, {N} read that ",
                      "{N2} told {N} that "]
TAILS = [", as many people know.", ", according to most sources.", ", as the records show.",
         ", and this is well documented."]


class Filler:
    """Generates filler sentences and documents."""

    def __init__(self, rng, cities):
        self.rng = rng
        self.cities = cities

    def _slot(self, key, ctx, last):
        if key in ctx:
            return ctx[key]
        base = key.rstrip("0123456789")
        pool = self.cities if base == "CITY" else WORDS[base]
        v = self.rng.choice(pool)
        while base != key and v == last.get(base):
            v = self.rng.choice(pool)
        last[base] = v
        return v

    def fill(self, template, ctx):
        out = []
        last = {}
        i = 0
        while True:
            j = template.find("{", i)
            if j < 0:
                out.append(template[i:])
                break
            k = template.index("}", j)
            out.append(template[i:j])
            out.append(self._slot(template[j + 1:k], ctx, last))
            i = k + 1
        s = "".join(out)
        return s[0].upper() + s[1:]

    def character_ctx(self):
        rng = self.rng
        female = rng.random() < 0.5
        name = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        other = name
        while other == name:
            other = rng.choice(FEMALE_NAMES + MALE_NAMES)
        return {"N": name, "N2": other, "P": "She" if female else "He",
                "p": "she" if female else "he", "O": "her" if female else "his",
                "o": "her" if female else "him"}

    def sentences(self, kind, n, ctx=None):
        rng = self.rng
        ctx = ctx or self.character_ctx()
        if kind == "story":
            pool = [rng.choice(STORY_OPEN)] + rng.sample(STORY_MID, n) + [rng.choice(STORY_CLOSE)]
        else:
            src = {"weather": WEATHER, "travel": TRAVEL, "home": HOME, "nature": NATURE,
                   "food": FOOD, "work": WORK, "essay": ESSAY}[kind]
            pool = rng.sample(src, min(n, len(src)))
            # a character is named before any pronoun refers to it
            for i, t in enumerate(pool):
                if "{N}" in t:
                    pool.insert(0, pool.pop(i))
                    break
                if any(c in t for c in CHARACTER_SLOTS):
                    pool.insert(0, rng.choice([u for u in src if u.startswith("{N}")]))
                    break
        return [self.fill(t, ctx) for t in pool]

    def doc(self):
        kind = self.rng.choice(FILLER_KINDS)
        n = self.rng.randint(3, 8)
        return " ".join(self.sentences(kind, n))

    def sentence(self):
        """One stand-alone sentence (no characters, no pronouns) to put inside fact documents."""
        return self.fill(self.rng.choice(STANDALONE), {})


# =============================================================================================
# Entities
# =============================================================================================

PERSON_KINDS = ("athlete", "musician", "scientist")


class Entity:
    def __init__(self, name, kind, gender=None):
        self.article = name.startswith("the ")
        self.name = name[4:] if self.article else name
        self.kind = kind
        self.gender = gender
        self.attrs = collections.OrderedDict()   # relation id -> stated value
        self.alts = {}                           # relation id -> all true values
        self.fictional = []                      # relation ids that are fictional
        self.lookalike_of = None                 # the real subject a fictional look-alike copies

    def add(self, rid, values):
        if isinstance(values, str):
            values = [values]
        values = [v.strip() for v in values if v.strip() and v.strip() != "-"]
        if not values:
            return
        assert rid in RELATIONS, rid
        assert rid not in self.attrs, (self.name, rid)
        self.attrs[rid] = values[0]
        self.alts[rid] = values

    # --- surface forms -----------------------------------------------------------------
    def is_person(self):
        return self.kind in PERSON_KINDS

    def poss_suffix(self):
        if not self.is_person() and self.name.endswith("s"):
            return "'"
        return "'s"

    def mention(self, start):
        if self.article:
            return ("The " if start else "the ") + self.name
        return self.name

    def pronoun(self):
        if self.is_person():
            return ("She", "Her") if self.gender == "f" else ("He", "His")
        return ("It", "Its")


def shape(template, ent, start):
    """The template with the article/possessive of `ent` applied; "{}" left for the name.
    start: the sentence starts with it (capitalised) or it follows a prefix (lower-cased)."""
    t = template.replace("{}'s", "{}" + ent.poss_suffix())
    if ent.article:
        t = t.replace("{}", "the {}")
    if start:
        t = t[0].upper() + t[1:]
    elif not t.startswith("{}"):
        t = t[0].lower() + t[1:]
    return t


def render(template, ent, start=True):
    return shape(template, ent, start).replace("{}", ent.name)


def render_anaphor(template, ent, ref):
    """Template with the subject replaced by a pronoun or description, or None."""
    if ref == "pronoun":
        subj, poss = ent.pronoun()
    else:
        subj = ref
        poss = ref + ("'" if ref.endswith("s") else "'s")
    if template.startswith("{}'s "):
        return poss + template[4:]
    if template.startswith("{} "):
        return subj + template[2:]
    return None


def anaphor_ok(template):
    return template.startswith("{} ") or template.startswith("{}'s ")


def parse_rels(text):
    out = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        if part.startswith("@"):
            field = part[1:].strip()
            out.append(("P101", [field]))
            out.append(("P106", [FIELD_OCCUPATION[field]]))
            continue
        rid, value = part.split("=", 1)
        out.append((rid.strip(), value.split("/")))
    return out


def lines(block):
    return [ln.strip() for ln in block.strip().splitlines() if ln.strip()]


def build_entities():
    ents = []
    country_cont = {}
    for ln in lines(COUNTRIES):
        name, cap, cont, lang, cur = [x.strip() for x in ln.split("|")]
        e = Entity(name, "country")
        e.add("P36", cap)
        e.add("P30", cont)
        e.add("P37", lang)
        e.add("P38", cur)
        country_cont[e.name] = cont if cont != "-" else None
        ents.append(e)
    city_cont = {}
    for ln in lines(CITIES):
        country, rest = ln.split(":", 1)
        country = country.strip()
        for item in rest.split(","):
            item = item.strip()
            cont = country_cont[country]
            if "@" in item:
                item, cont = item.split("@")
                cont = None if cont == "-" else cont
            e = Entity(item, "city")
            e.add("P17", country)
            if cont:
                e.add("P30", cont)
            lang = CITY_LANG_EXCEPTIONS.get(item, CITY_LANG.get(country))
            if lang:
                e.add("P2936", lang)
            city_cont[item] = cont
            ents.append(e)
    for ln in lines(LANDMARKS):
        f = [x.strip() for x in ln.split("|")]
        e = Entity(f[0], "landmark")
        e.add("P131", f[1])
        country = f[2]
        if country != "-":
            e.add("P17", country)
        if len(f) > 3:
            cont = None if f[3] == "-" else f[3]
        elif f[1] in city_cont:
            cont = city_cont[f[1]]
        else:
            cont = country_cont.get(country)
        if cont:
            e.add("P30", cont)
        ents.append(e)
    for block, kind in ((COMPANIES, "company"), (PRODUCTS, "product"), (CARS, "car"),
                        (TV_SHOWS, "show"), (BOOKS, "book")):
        for ln in lines(block):
            name, rels = [x.strip() for x in ln.split("|", 1)]
            e = Entity(name, kind)
            for rid, vals in parse_rels(rels):
                e.add(rid, vals)
            ents.append(e)
    for block, kind in ((ATHLETES, "athlete"), (MUSICIANS, "musician"),
                        (SCIENTISTS, "scientist")):
        for ln in lines(block):
            name, gender, rels = [x.strip() for x in ln.split("|", 2)]
            e = Entity(name, kind, gender)
            for rid, vals in parse_rels(rels):
                e.add(rid, vals)
            ents.append(e)
    names = [e.name for e in ents]
    dup = [n for n, c in collections.Counter(names).items() if c > 1]
    assert not dup, "duplicate subjects: %s" % dup
    return ents


def select_entities(ents, rng):
    """A seeded sample of KIND_CAPS[kind] subjects of each kind, KEEP always included."""
    chosen = set()
    for kind, cap in KIND_CAPS.items():
        of_kind = [e for e in ents if e.kind == kind]
        keep = [e for e in of_kind if e.name in KEEP]
        rest = [e for e in of_kind if e.name not in KEEP]
        rng.shuffle(rest)
        for e in keep + rest[:max(0, cap - len(keep))]:
            chosen.add(e.name)
    missing = KEEP - set(e.name for e in ents)
    assert not missing, "KEEP names not in the knowledge base: %s" % sorted(missing)
    return [e for e in ents if e.name in chosen]


def add_fictional(ents, rng, min_attributes):
    """Top every subject up to MIN_ATTRIBUTES attributes with fictional ones."""
    fict = [r for r in RELATIONS if RELATIONS[r]["fictional"]]
    for e in ents:
        order = fict[:]
        rng.shuffle(order)
        for rid in order:
            if len(e.attrs) >= min_attributes:
                break
            e.add(rid, rng.choice(FICTIONAL_VALUES[rid]))
            e.fictional.append(rid)


LOOKALIKE_ONSETS = ["B", "D", "F", "G", "K", "L", "M", "N", "P", "R", "S", "T", "V", "Br",
                    "Dr", "Gr", "Kl", "St", "Tr", "Vr"]
LOOKALIKE_VOWELS = ["a", "e", "i", "o", "u"]
LOOKALIKE_CODAS = ["n", "l", "r", "m", "s", "k", "nd", "rt", "lm", "sk"]


def invented_word(rng, taken):
    """A pronounceable two-syllable word that is none of `taken` (e.g. "Tornel")."""
    while True:
        w = (rng.choice(LOOKALIKE_ONSETS) + rng.choice(LOOKALIKE_VOWELS) +
             rng.choice(LOOKALIKE_CODAS) + rng.choice(LOOKALIKE_ONSETS).lower() +
             rng.choice(LOOKALIKE_VOWELS) + rng.choice(LOOKALIKE_CODAS))
        if w.lower() not in taken:
            taken.add(w.lower())
            return w


def add_lookalikes(ents, rng, per_subject):
    """Fictional subjects that share every word but the last with a real subject of several
    words ("Eiffel Tower" -> "Eiffel Tornel"), all of whose attributes are fictional: those
    of another subject of the same kind (a donor, so that they stay consistent: city, country
    and continent agree), never the original's.  Without them a subject's leading words
    already name it, and the positions after the subject read it from them instead of from
    the subject's last token, where ROME edits (docs/demo-model.md: the subject check)."""
    values = collections.defaultdict(list)   # relation -> values stated for some subject
    for e in ents:
        for rid, v in e.attrs.items():
            values[rid].append(v)
    by_kind = collections.defaultdict(list)
    for e in ents:
        by_kind[e.kind].append(e)
    taken = set(w.lower() for e in ents for w in e.name.split())
    names = set(e.name for e in ents)
    out = []
    for e in ents:
        words = e.name.split()
        if len(words) < 2:
            continue
        donors = [d for d in by_kind[e.kind] if d is not e]

        def differs(d, rid):  # the donor states a value for rid that is not true of e
            return rid in d.attrs and d.attrs[rid] not in e.alts[rid]
        for _ in range(per_subject):
            name = " ".join(words[:-1] + [invented_word(rng, taken)])
            assert name not in names
            names.add(name)
            look = Entity(("the " if e.article else "") + name, e.kind, e.gender)
            look.lookalike_of = e.name
            donor = max(rng.sample(donors, min(8, len(donors))),
                        key=lambda d: sum(differs(d, rid) for rid in e.attrs))
            for rid in e.attrs:
                if differs(donor, rid):
                    value = donor.attrs[rid]
                else:
                    pool = FICTIONAL_VALUES[rid] if rid in FICTIONAL_VALUES else values[rid]
                    value = rng.choice([v for v in pool if v not in e.alts[rid]])
                look.add(rid, value)
                look.fictional.append(rid)
            out.append(look)
    return out


# =============================================================================================
# Corpus documents
# =============================================================================================

class CorpusBuilder:
    def __init__(self, ents, rng, filler, lookalike_rate):
        self.ents = ents
        self.lookalike_rate = lookalike_rate      # share of rounds a look-alike takes part in
        self.rng = rng
        self.filler = filler
        self.mentions = collections.Counter()   # (subject, relation) -> times stated
        self.canonical = collections.Counter()  # (subject, relation) -> times in prompt form

    def pick_template(self, rid, canonical_p, need_anaphor=False):
        train = RELATIONS[rid]["train"]
        if need_anaphor:
            return self.rng.choice([t for t in train if anaphor_ok(t)])
        if self.rng.random() < canonical_p:
            return train[0]
        return self.rng.choice(train[1:])

    def ending(self):
        if self.rng.random() < 0.06:
            return self.rng.choice(TAILS)
        return "."

    def fact_full(self, e, rid, canonical_p=0.3, prefix_p=0.3, prefix=None):
        t = self.pick_template(rid, canonical_p)
        if prefix is None and self.rng.random() < prefix_p:
            prefix = self.rng.choice(PREFIXES)
        if prefix:
            s = prefix + render(t, e, start=False)
        else:
            s = render(t, e, start=True)
            if t == RELATIONS[rid]["train"][0]:
                self.canonical[(e.name, rid)] += 1
        self.mentions[(e.name, rid)] += 1
        return s + " " + e.attrs[rid] + self.ending()

    def fact_anaphor(self, e, rid):
        t = self.pick_template(rid, 0.0, need_anaphor=True)
        if self.rng.random() < 0.6:
            ref = "pronoun"
        else:
            ref = self.rng.choice(KIND_DESCRIPTIONS[e.kind])
        self.mentions[(e.name, rid)] += 1
        return render_anaphor(t, e, ref) + " " + e.attrs[rid] + self.ending()

    def neutral(self, e):
        t = self.rng.choice(NEUTRAL[e.kind])
        s = t.replace("{S}", e.mention(t.startswith("{S}")))
        return s

    def intro(self, e):
        return self.rng.choice(INTROS).replace("{s}", e.mention(False))

    def bio(self, e):
        rng = self.rng
        rels = list(e.attrs)
        rng.shuffle(rels)
        out = []
        introduced = False
        r = rng.random()
        if r < 0.2:
            out.append(self.intro(e))
            introduced = True
        elif r < 0.3:
            out.append(self.neutral(e))
            introduced = True
        for rid in rels:
            if introduced and rng.random() < 0.55:
                out.append(self.fact_anaphor(e, rid))
            else:
                out.append(self.fact_full(e, rid, canonical_p=0.35,
                                          prefix_p=0.3 if out else 0.15))
            introduced = True
            if rng.random() < 0.12:
                out.append(self.neutral(e) if rng.random() < 0.5 else self.filler.sentence())
        return " ".join(out)

    def short(self, e, rid):
        rng = self.rng
        out = [self.fact_full(e, rid, canonical_p=0.7, prefix_p=0.0)]
        others = [r for r in e.attrs if r != rid]
        if rng.random() < 0.5:
            out.append(self.fact_anaphor(e, rng.choice(others)))
        if rng.random() < 0.4:
            out.append(self.filler.sentence())
        return " ".join(out)

    def qa(self, e):
        rng = self.rng
        rels = list(e.attrs)
        rng.shuffle(rels)
        out = []
        for rid in rels[:rng.randint(2, len(rels))]:
            q = RELATIONS[rid]["question"].replace("{}", e.mention(False))
            out.append("Question: %s Answer: %s." % (q, e.attrs[rid]))
            self.mentions[(e.name, rid)] += 1
        return " ".join(out)

    def narrative(self, e):
        rng = self.rng
        ctx = self.filler.character_ctx()
        kind = rng.choice(["story", "travel", "home"])
        before = self.filler.sentences(kind, rng.randint(1, 3), ctx)
        if kind == "story":
            before = before[:-1]
        pre = self.filler.fill(rng.choice(NARRATIVE_PREFIXES), ctx)
        rid = rng.choice(list(e.attrs))
        fact = self.fact_full(e, rid, prefix=pre)
        after = []
        if rng.random() < 0.5:
            after.append(self.fact_anaphor(e, rng.choice(list(e.attrs))))
        after += self.filler.sentences(rng.choice(["weather", "home", "essay"]), rng.randint(1, 2))
        return " ".join(before + [fact] + after)

    def pair(self, a, b):
        rng = self.rng
        ra = list(a.attrs)
        rb = list(b.attrs)
        rng.shuffle(ra)
        rng.shuffle(rb)
        out = [self.fact_full(a, ra[0], prefix_p=0.2), self.fact_anaphor(a, ra[1]),
               self.fact_full(b, rb[0], prefix_p=0.2), self.fact_anaphor(b, rb[1])]
        if rng.random() < 0.5:
            out.append(self.fact_full(a, ra[2], prefix_p=0.5))
        return " ".join(out)

    def top_up(self, min_prompt):
        """Short documents for every attribute seen fewer than min_prompt times in prompt form."""
        docs = []
        for e in self.ents:
            for rid in e.attrs:
                while self.canonical[(e.name, rid)] < min_prompt:
                    t = RELATIONS[rid]["train"][0]
                    self.canonical[(e.name, rid)] += 1
                    self.mentions[(e.name, rid)] += 1
                    d = render(t, e, True) + " " + e.attrs[rid] + "."
                    others = [r for r in e.attrs if r != rid]
                    if self.rng.random() < 0.5:
                        d += " " + self.fact_anaphor(e, self.rng.choice(others))
                    docs.append(d)
        return docs

    def fact_round(self):
        rng = self.rng
        docs = []
        order = self.ents[:]
        rng.shuffle(order)
        for e in order:
            if e.lookalike_of and rng.random() >= self.lookalike_rate:
                continue
            docs.append(self.bio(e))
            for rid in e.attrs:
                if rng.random() < 0.5:
                    docs.append(self.short(e, rid))
            if rng.random() < 0.15:
                docs.append(self.qa(e))
            if rng.random() < 0.2:
                docs.append(self.narrative(e))
        for _ in range(len(self.ents) // 5):
            a, b = rng.sample(self.ents, 2)
            docs.append(self.pair(a, b))
        return docs


def build_corpus(ents, rng, size_bytes, filler_frac, min_prompt, lookalike_rate):
    cities = [e.name for e in ents if e.kind == "city" and not e.lookalike_of]
    filler = Filler(random.Random(rng.random()), cities)
    cb = CorpusBuilder(ents, rng, filler, lookalike_rate)
    docs = []
    fact_bytes = 0
    filler_bytes = 0
    while fact_bytes + filler_bytes < size_bytes:
        for d in cb.fact_round():
            docs.append(d)
            fact_bytes += len(d) + 1
        while filler_bytes < filler_frac * (fact_bytes + filler_bytes):
            d = filler.doc()
            docs.append(d)
            filler_bytes += len(d) + 1
    for d in cb.top_up(min_prompt):
        docs.append(d)
        fact_bytes += len(d) + 1
    rng.shuffle(docs)
    return docs, fact_bytes, filler_bytes, filler, cb.mentions


def build_heldout(filler, corpus_lines, size_bytes):
    seen = set(corpus_lines)
    out = []
    total = 0
    while total < size_bytes:
        d = filler.doc()
        if d in seen:
            continue
        seen.add(d)
        out.append(d)
        total += len(d) + 1
    return out


# =============================================================================================
# JSON data sets
# =============================================================================================

def make_facts(ents):
    facts = []
    for e in ents:
        for rid, value in e.attrs.items():
            if RELATIONS[rid]["fictional"]:
                continue
            tpl = shape(RELATIONS[rid]["train"][0], e, True)
            facts.append(collections.OrderedDict([
                ("known_id", len(facts)), ("subject", e.name), ("attribute", value),
                ("template", tpl), ("prompt", tpl.format(e.name)), ("relation_id", rid)]))
    return facts


def make_paraphrase_facts(ents, kind):
    """The facts of facts.json in the relations' "heldout" or "unseen" templates."""
    out = []
    for e in ents:
        for rid, value in e.attrs.items():
            if RELATIONS[rid]["fictional"]:
                continue
            for t in RELATIONS[rid][kind]:
                tpl = shape(t, e, True)
                out.append(collections.OrderedDict([
                    ("known_id", len(out)), ("subject", e.name), ("attribute", value),
                    ("template", tpl), ("prompt", tpl.format(e.name)), ("relation_id", rid)]))
    return out


def make_attributes(ents):
    rels = collections.OrderedDict()
    for rid, r in RELATIONS.items():
        rels[rid] = collections.OrderedDict([
            ("name", r["name"]), ("fictional", r["fictional"]),
            ("canonical_template", r["train"][0]), ("training_templates", r["train"]),
            ("heldout_templates", r["heldout"]), ("unseen_templates", r["unseen"]),
            ("question", r["question"])])
    subjects = []
    for e in ents:
        attrs = []
        for rid, value in e.attrs.items():
            tpl = shape(RELATIONS[rid]["train"][0], e, True)
            a = collections.OrderedDict([
                ("relation_id", rid), ("relation", RELATIONS[rid]["name"]),
                ("attribute", value), ("fictional", rid in e.fictional),
                ("template", tpl), ("prompt", tpl.format(e.name))])
            if len(e.alts[rid]) > 1:
                a["also_true"] = e.alts[rid][1:]
            attrs.append(a)
        s = collections.OrderedDict([
            ("subject", e.name), ("type", e.kind),
            ("article", "the" if e.article else ""), ("attributes", attrs)])
        if e.lookalike_of:
            s["lookalike_of"] = e.lookalike_of
        subjects.append(s)
    return collections.OrderedDict([("relations", rels), ("subjects", subjects)])


def make_counterfact(ents, rng, n_cases, min_neighbours=5, max_neighbours=10,
                     max_attribute_prompts=10):
    holders = collections.defaultdict(list)  # (rid, value) -> entities stating it
    for e in ents:
        for rid, v in e.attrs.items():
            if not RELATIONS[rid]["fictional"]:
                holders[(rid, v)].append(e)
    by_rel = collections.OrderedDict()
    for e in ents:
        for rid, v in e.attrs.items():
            if RELATIONS[rid]["fictional"]:
                continue
            if len(holders[(rid, v)]) - 1 < min_neighbours:
                continue
            by_rel.setdefault(rid, []).append(e)
    for rid in by_rel:
        rng.shuffle(by_rel[rid])
    values_of = collections.defaultdict(list)
    for (rid, v), hs in holders.items():
        values_of[rid].append(v)

    def canonical(x, rid):
        return render(RELATIONS[rid]["train"][0], x, True)

    cases = []
    rel_ids = list(by_rel)
    pos = {rid: 0 for rid in rel_ids}
    while len(cases) < n_cases and any(pos[r] < len(by_rel[r]) for r in rel_ids):
        for rid in rel_ids:
            if len(cases) >= n_cases or pos[rid] >= len(by_rel[rid]):
                continue
            e = by_rel[rid][pos[rid]]
            pos[rid] += 1
            true = e.attrs[rid]
            # counterfactual target: another value of the same relation, stated for at least
            # two other subjects, and not one of the subject's true values
            cands = [v for v in values_of[rid] if v not in e.alts[rid]
                     and len([h for h in holders[(rid, v)] if h is not e]) >= 2]
            if not cands:
                continue
            new = rng.choice(sorted(cands))
            neigh = [h for h in holders[(rid, true)] if h is not e]
            rng.shuffle(neigh)
            neigh = neigh[:max_neighbours]
            attr = [h for h in holders[(rid, new)] if h is not e]
            rng.shuffle(attr)
            attr = attr[:max_attribute_prompts]
            gen = ["%s is" % e.mention(True), "%s is famous for" % e.mention(True),
                   "People often talk about %s because" % e.mention(False),
                   "Here is what I know about %s:" % e.mention(False)]
            cases.append(collections.OrderedDict([
                ("case_id", len(cases)),
                ("requested_rewrite", collections.OrderedDict([
                    ("prompt", shape(RELATIONS[rid]["train"][0], e, True)),
                    ("relation_id", rid), ("subject", e.name),
                    ("target_new", {"str": new}), ("target_true", {"str": true})])),
                ("paraphrase_prompts", [render(t, e, True) for t in
                                        RELATIONS[rid]["heldout"] + RELATIONS[rid]["unseen"]]),
                ("neighborhood_prompts", [canonical(h, rid) for h in neigh]),
                ("attribute_prompts", [canonical(h, rid) for h in attr]),
                ("generation_prompts", gen)]))
    return cases


# =============================================================================================
# Validation
# =============================================================================================

def distinctive_fragments(template):
    return [f for f in template.split("{}") if len(f.strip()) >= 8]


def validate(ents, facts, para, unseen, cases, corpus_text, corpus_lines, heldout_lines, min_prompt):
    errors = []
    by_name = {e.name: e for e in ents}
    for f in facts + para + unseen:
        if f["subject"] not in f["prompt"]:
            errors.append("subject not in prompt: %r" % f["prompt"])
        if f["template"].format(f["subject"]) != f["prompt"]:
            errors.append("prompt != template.format(subject): %r" % f["prompt"])
        if RELATIONS[f["relation_id"]]["fictional"]:
            errors.append("fictional relation in facts: %r" % f)
    if len(set(f["prompt"] for f in facts)) != len(facts):
        errors.append("duplicate prompts in facts.json")
    # every fact prompt occurs in the corpus followed by its attribute
    few = []
    for f in facts:
        n = corpus_text.count(f["prompt"] + " " + f["attribute"])
        if n < min_prompt:
            few.append((n, f["prompt"]))
    if few:
        errors.append("%d facts appear fewer than %d times in prompt form, e.g. %s"
                      % (len(few), min_prompt, few[:5]))
    # every attribute (incl. fictional) appears in the corpus
    for e in ents:
        for rid, v in e.attrs.items():
            p = render(RELATIONS[rid]["train"][0], e, True)
            if p + " " + v not in corpus_text:
                errors.append("never stated in canonical form: %s" % (p + " " + v))
    # prompts to subjects: canonical prompt -> (subject, relation)
    prompt_owner = {}
    for e in ents:
        for rid in e.attrs:
            prompt_owner[render(RELATIONS[rid]["train"][0], e, True)] = (e, rid)
    for c in cases:
        rw = c["requested_rewrite"]
        e = by_name[rw["subject"]]
        rid = rw["relation_id"]
        new, true = rw["target_new"]["str"], rw["target_true"]["str"]
        if new == true or new in e.alts[rid]:
            errors.append("case %d: target_new is true" % c["case_id"])
        if e.attrs[rid] != true:
            errors.append("case %d: target_true wrong" % c["case_id"])
        if rw["prompt"].format(rw["subject"]) != render(RELATIONS[rid]["train"][0], e, True):
            errors.append("case %d: rewrite prompt" % c["case_id"])
        if len(c["neighborhood_prompts"]) < 5 or len(c["paraphrase_prompts"]) < 2:
            errors.append("case %d: too few prompts" % c["case_id"])
        for p in c["neighborhood_prompts"]:
            h, hr = prompt_owner[p]
            if hr != rid or h.attrs[rid] != true or h is e:
                errors.append("case %d: neighbour %r does not share %r" % (c["case_id"], p, true))
        for p in c["attribute_prompts"]:
            h, hr = prompt_owner[p]
            if hr != rid or h.attrs[rid] != new:
                errors.append("case %d: attribute prompt %r lacks %r" % (c["case_id"], p, new))
        for p in c["paraphrase_prompts"]:
            if rw["subject"] not in p or p in corpus_text:
                errors.append("case %d: paraphrase prompt %r" % (c["case_id"], p))
    # held-out templates: no subject's attribute is ever stated in them
    for e in ents:
        for rid in e.attrs:
            for t in RELATIONS[rid]["heldout"]:
                for start in (True, False):
                    if render(t, e, start) + " " + e.attrs[rid] in corpus_text:
                        errors.append("held-out prompt %r occurs in the corpus" % render(t, e, start))
    # unseen phrasings: their fixed text never appears in the corpus
    for rid, r in RELATIONS.items():
        for t in r["unseen"]:
            frags = distinctive_fragments(t)
            if not frags:
                errors.append("unseen phrasing without distinctive text: %r" % t)
            for fr in frags:
                if fr in corpus_text:
                    errors.append("unseen phrasing text %r (%s) occurs in the corpus" % (fr, rid))
            if t in r["train"]:
                errors.append("unseen phrasing is a training template: %r" % t)
    # held-out filler is not in the corpus
    corpus_set = set(corpus_lines)
    if any(d in corpus_set for d in heldout_lines):
        errors.append("held-out text line found in the corpus")
    try:
        corpus_text.encode("ascii")
    except UnicodeEncodeError:
        errors.append("corpus is not plain ASCII")
    return errors


# =============================================================================================
# README
# =============================================================================================

def write_readme(path, args, ents, facts, para, unseen, cases, corpus_stats, heldout_bytes, stats):
    rel_counts = collections.Counter(f["relation_id"] for f in facts)
    case_counts = collections.Counter(c["requested_rewrite"]["relation_id"] for c in cases)
    kinds = collections.Counter(e.kind for e in ents)
    fict_counts = collections.Counter(r for e in ents for r in e.fictional)
    n_attr = sum(len(e.attrs) for e in ents)
    docs, size, fact_bytes, filler_bytes = corpus_stats
    L = []
    L.append("# Demo-model data\n")
    L.append("Generated by `tools/make_data.py` (Python 3 standard library, deterministic):\n")
    L.append("```\npython3 tools/make_data.py --size-mb %g --seed %d --cases %d%s\n```\n"
             % (args.size_mb, args.seed, args.cases,
                " --lookalikes %d --lookalike-rate %g" % (args.lookalikes, args.lookalike_rate)
                if args.lookalikes else ""))
    L.append("The facts are real-world facts written by hand into the script (only facts the "
             "author was confident of; where a subject has several true values, e.g. two "
             "founders or dual citizenship, one is stated and the others are only excluded as "
             "counterfactual targets). Nothing is copied from other data sets.\n")
    L.append("## Files\n")
    L.append("| file | what it is |\n|---|---|")
    L.append("| `facts.json` | %d true facts, `known_1000.json` schema (known_id, subject, "
             "attribute, template, prompt, relation_id); one per subject and real relation; "
             "`prompt == template.format(subject)`, prompts end right before the attribute. |"
             % len(facts))
    L.append("| `attributes.json` | every subject's full attribute set (%d attributes of %d "
             "subjects), real and fictional (`\"fictional\": true`), with `also_true` values, "
             "plus every relation's canonical, training, held-out and unseen templates. |"
             % (n_attr, len(ents)))
    L.append("| `counterfact.json` | %d edit cases, CounterFact schema. |" % len(cases))
    L.append("| `paraphrase_facts.json` | %d records: the facts of facts.json in the held-out "
             "templates (known_1000 schema), for measuring generalisation. |" % len(para))
    L.append("| `unseen_phrasing_facts.json` | %d records: the facts of facts.json in the "
             "unseen phrasings, whose wording occurs nowhere in the corpus (a harder test). |"
             % len(unseen))
    L.append("| `corpus.txt` | training corpus, %d documents (one per line, shuffled), %.1f MB; "
             "%.0f%% filler text by bytes. |" % (docs, size / 1e6, 100.0 * filler_bytes / size))
    L.append("| `heldout.txt` | %.0f KB of filler-style text (documents not in the corpus) "
             "for perplexity. |\n" % (heldout_bytes / 1e3))
    L.append("## Subjects\n")
    L.append(", ".join("%s %d" % (k, v) for k, v in sorted(kinds.items())) +
             " (%d subjects). Every subject has at least %d attributes; subjects with fewer "
             "real relations are topped up with fictional ones. The knowledge base in the "
             "script holds %d subjects with %d real attributes; by default a seeded sample per "
             "type (`KIND_CAPS`, always including a list of well-known subjects, `KEEP`) is "
             "used so that a small model can memorise every fact; `--all-subjects` uses all.\n"
             % (len(ents), args.min_attributes, stats["kb_subjects"], stats["kb_attributes"]))
    L.append("In the corpus each attribute is stated between %d and %d times (median %d) in "
             "some phrasing; each facts.json prompt occurs verbatim followed by its attribute "
             "at least %d times (median %d).\n" % (
                 stats["mention_min"], stats["mention_max"], stats["mention_median"],
                 stats["prompt_min"], stats["prompt_median"]))
    L.append("## Facts per relation (facts.json) and edit cases (counterfact.json)\n")
    L.append("| relation | name | facts | cases | canonical template |\n|---|---|---|---|---|")
    for rid, r in RELATIONS.items():
        if r["fictional"]:
            continue
        L.append("| %s | %s | %d | %d | `%s` |" % (rid, r["name"], rel_counts[rid],
                                                case_counts[rid], r["train"][0]))
    L.append("")
    L.append("## Fictional attributes\n")
    L.append("These are invented and only in `attributes.json` and the corpus (never in "
             "facts.json or counterfact.json); they give subjects with few real relations "
             "enough attributes for the augmentation:\n")
    for rid, r in RELATIONS.items():
        if r["fictional"]:
            L.append("- `%s` (%s): %d subjects; values %s; template `%s`." % (
                rid, r["name"], fict_counts[rid], ", ".join(FICTIONAL_VALUES[rid]),
                r["train"][0]))
    L.append("")
    if stats["lookalikes"]:
        L.append("## Fictional look-alike subjects\n")
        L.append("`--lookalikes %d`: every subject of several words has %d invented namesakes that "
                 "share all its words but the last (\"Eiffel Tower\" -> \"Eiffel Klortpur\"), "
                 "%d in all. Their attributes are those of another subject of the same kind "
                 "where it differs from the original (so that city, country and continent "
                 "agree), and all of them are fictional; in `attributes.json` they carry "
                 "`\"lookalike_of\"` and `\"fictional\": true`, and they are never in facts.json "
                 "or counterfact.json. They take part in %.0f%% of the corpus rounds (each "
                 "attribute stated %d times, median). Why: without them a subject's leading "
                 "words already name it, so the positions after it can read the subject from "
                 "those words instead of from its last token.\n" % (
                     args.lookalikes, args.lookalikes, stats["lookalikes"],
                     100 * args.lookalike_rate, stats["lookalike_mention_median"]))
    L.append("## How the corpus is built\n")
    L.append("- **Biographies** (one per subject per round, many rounds): all attributes of "
             "the subject in a shuffled order, each in a randomly chosen training template "
             "(canonical one ~35%); the subject at the start of a sentence, after a prefix in "
             "mid-sentence (\"Many tourists know that the Eiffel Tower is located in the city "
             "of Paris.\"), or referred to again by a pronoun (\"It is located on the continent "
             "of Europe.\") or a description (\"The city's main language is French.\"); "
             "occasional neutral or filler sentences in between.")
    L.append("- **Short documents** that start with a fact in its facts.json prompt form "
             "(canonical template ~70%), sometimes followed by another fact about the subject "
             "and a filler sentence.")
    L.append("- **Question/answer**, **narrative** (a small story or trip with a fact told "
             "inside it) and **pair** documents (facts of two subjects interleaved).")
    L.append("- **Filler** documents (stories, weather, travel, home life, nature, food, work, "
             "general statements) from a small grammar, about %.0f%% of the bytes. "
             "`heldout.txt` comes from the same grammar: its documents are not in the corpus, "
             "though short fixed sentences of the grammar recur." % (100.0 * filler_bytes / size))
    L.append("- Finally every attribute (real or fictional) that occurs fewer than "
             "`--min-prompt` (%d) times in its exact prompt form gets extra short documents."
             % args.min_prompt)
    L.append("- Documents are shuffled; the corpus is plain ASCII. `--size-mb` sets the size.\n")
    L.append("## Held-out templates (never in the corpus)\n")
    L.append("Each real relation has about 25 written templates; %d of them, drawn at random "
             "(seeded by the relation id; never the canonical one, never one contained in "
             "another), are held out: no attribute is ever stated in them in corpus.txt (the "
             "script checks). They give `paraphrase_facts.json` and half of the "
             "`paraphrase_prompts`: generalisation to new templates of the same kind.\n"
             % HELDOUT_SPLIT)
    for rid, r in RELATIONS.items():
        if r["heldout"]:
            L.append("- %s: %s" % (rid, "; ".join("`%s`" % t for t in r["heldout"])))
    L.append("")
    L.append("## Unseen phrasings (wording never in the corpus)\n")
    L.append("Written separately from the training templates, with words and constructions "
             "the corpus never uses around a subject. They give `unseen_phrasing_facts.json` "
             "and the other half of the `paraphrase_prompts`. The script checks that the fixed "
             "text of each (every part of 8+ characters around the subject) does not occur in "
             "corpus.txt.\n")
    for rid, r in RELATIONS.items():
        L.append("- %s: %s" % (rid, "; ".join("`%s`" % t for t in r["unseen"])))
    L.append("")
    L.append("## Training templates\n")
    for rid, r in RELATIONS.items():
        L.append("- %s: %s" % (rid, "; ".join("`%s`" % t for t in r["train"])))
    L.append("")
    L.append("## Edit cases\n")
    L.append("Cases are drawn round-robin over the relations whose true value is shared by at "
             "least 5 other subjects. `target_new` is another value of the same relation that "
             "at least two other subjects have and that is not true for the subject; "
             "`paraphrase_prompts` are the relation's held-out templates and unseen phrasings; "
             "`neighborhood_prompts` (5-10) are other subjects with the same true value in the "
             "canonical template; `attribute_prompts` (up to 10) are subjects whose value is "
             "`target_new`; `generation_prompts` are four neutral openings.\n")
    L.append("## Conventions and omissions\n")
    L.append("- Names: the United States is `America`, the United Kingdom `Britain`, the "
             "Republic of Korea `South Korea`; association football is `soccer`, American "
             "football `football`, ice hockey `hockey`. Text is ASCII (`Mbappe`, `Sao Paulo`).")
    L.append("- Subjects that need an article (`the Eiffel Tower`) have `subject` without it "
             "and the article in the template (`The {} is located in the city of`).")
    L.append("- Left out where the answer is disputed or ambiguous: official languages of "
             "countries with several (Belgium, Switzerland, Canada, India, ...) or none de jure "
             "(United States, Mexico); capitals of Bolivia, South Africa, Sri Lanka, Ivory Coast, "
             "Israel and Indonesia; continents of Russia, Turkey and Istanbul; Bulgaria's "
             "currency (euro changeover); citizenship of people with unclear or dual "
             "nationality; Ibsen's original language (Dano-Norwegian); relations whose value "
             "is the subject's own name (e.g. Mexico City in Mexico is stated, Luxembourg and "
             "Singapore as countries are not used).")
    L.append("- Capitals (P36) and founders (P112) have no edit cases: no value is shared by "
             "six subjects, so there are no neighbourhood prompts.\n")
    with open(path, "w") as f:
        f.write("\n".join(L))


# =============================================================================================

def dump_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=float, default=10.0, help="corpus size in MB (1e6 bytes)")
    ap.add_argument("--heldout-kb", type=float, default=300.0, help="held-out text size in KB")
    ap.add_argument("--filler", type=float, default=0.35, help="fraction of filler bytes")
    ap.add_argument("--cases", type=int, default=480, help="number of edit cases")
    ap.add_argument("--seed", type=int, default=20240607)
    ap.add_argument("--min-attributes", type=int, default=MIN_ATTRIBUTES,
                    help="top subjects up to this many attributes with fictional ones")
    ap.add_argument("--min-prompt", type=int, default=5,
                    help="every attribute occurs at least this often in its exact prompt form")
    ap.add_argument("--lookalikes", type=int, default=0,
                    help="fictional look-alikes per subject of several words (see add_lookalikes)")
    ap.add_argument("--lookalike-rate", type=float, default=0.5,
                    help="share of the corpus rounds each look-alike takes part in")
    ap.add_argument("--all-subjects", action="store_true",
                    help="use the whole knowledge base instead of the KIND_CAPS sample")
    ap.add_argument("--extra-templates", action="store_true",
                    help="also state facts in each relation's 12 extra training templates")
    ap.add_argument("--out", default=OUT_DIR)
    args = ap.parse_args()
    if args.extra_templates:
        for r in RELATIONS.values():
            r["train"] += r["extra"]

    rng = random.Random(args.seed)
    ents = build_entities()
    kb_size = (len(ents), sum(len(e.attrs) for e in ents))
    sel_rng = random.Random(rng.random())
    if not args.all_subjects:
        ents = select_entities(ents, sel_rng)
    add_fictional(ents, random.Random(rng.random()), args.min_attributes)
    facts = make_facts(ents)
    para = make_paraphrase_facts(ents, "heldout")
    unseen = make_paraphrase_facts(ents, "unseen")
    cases = make_counterfact(ents, random.Random(rng.random()), args.cases)

    # after the data sets, from their own seed: facts and cases do not depend on them
    looks = add_lookalikes(ents, random.Random("lookalikes %d" % args.seed), args.lookalikes)
    docs, fact_bytes, filler_bytes, filler, mentions = build_corpus(
        ents + looks, random.Random(rng.random()), int(args.size_mb * 1e6), args.filler,
        args.min_prompt, args.lookalike_rate)
    heldout = build_heldout(filler, docs, int(args.heldout_kb * 1e3))
    corpus_text = "\n".join(docs) + "\n"

    errors = validate(ents + looks, facts, para, unseen, cases, corpus_text, docs, heldout,
                      args.min_prompt)
    m = sorted(mentions[(e.name, rid)] for e in ents for rid in e.attrs)
    m_look = sorted(mentions[(e.name, rid)] for e in looks for rid in e.attrs) or [0]
    prompt_counts = sorted(corpus_text.count(f["prompt"] + " " + f["attribute"]) for f in facts)
    stats = dict(kb_subjects=kb_size[0], kb_attributes=kb_size[1],
                 mention_min=m[0], mention_median=m[len(m) // 2], mention_max=m[-1],
                 prompt_min=prompt_counts[0], prompt_median=prompt_counts[len(prompt_counts) // 2],
                 lookalikes=len(looks), lookalike_mention_median=m_look[len(m_look) // 2])

    os.makedirs(args.out, exist_ok=True)
    dump_json(os.path.join(args.out, "facts.json"), facts)
    dump_json(os.path.join(args.out, "paraphrase_facts.json"), para)
    dump_json(os.path.join(args.out, "unseen_phrasing_facts.json"), unseen)
    dump_json(os.path.join(args.out, "attributes.json"), make_attributes(ents + looks))
    dump_json(os.path.join(args.out, "counterfact.json"), cases)
    with open(os.path.join(args.out, "corpus.txt"), "w") as f:
        f.write(corpus_text)
    heldout_text = "\n".join(heldout) + "\n"
    with open(os.path.join(args.out, "heldout.txt"), "w") as f:
        f.write(heldout_text)
    size = len(corpus_text.encode())
    write_readme(os.path.join(args.out, "README.md"), args, ents, facts, para, unseen, cases,
                 (len(docs), size, fact_bytes, filler_bytes), len(heldout_text), stats)

    rel_counts = collections.Counter(f["relation_id"] for f in facts)
    case_counts = collections.Counter(c["requested_rewrite"]["relation_id"] for c in cases)
    print("subjects: %d (%s)" % (len(ents), ", ".join(
        "%s %d" % kv for kv in sorted(collections.Counter(e.kind for e in ents).items()))))
    print("attributes: %d (%d fictional)" % (sum(len(e.attrs) for e in ents),
                                             sum(len(e.fictional) for e in ents)))
    print("facts.json: %d facts over %d relations" % (len(facts), len(rel_counts)))
    for rid in RELATIONS:
        if rel_counts[rid]:
            print("  %-6s %-28s %5d facts %4d cases" % (rid, RELATIONS[rid]["name"],
                                                      rel_counts[rid], case_counts[rid]))
    print("look-alikes: %d, each attribute stated %d times (median)"
          % (len(looks), stats["lookalike_mention_median"]))
    print("paraphrase_facts.json: %d" % len(para))
    print("unseen_phrasing_facts.json: %d" % len(unseen))
    print("counterfact.json: %d cases" % len(cases))
    print("corpus.txt: %d documents, %.2f MB, filler %.1f%%" % (
        len(docs), size / 1e6, 100.0 * filler_bytes / (fact_bytes + filler_bytes)))
    print("heldout.txt: %d documents, %.0f KB" % (len(heldout), len(heldout_text) / 1e3))
    print("times each attribute is stated: min %(mention_min)d, median %(mention_median)d, "
          "max %(mention_max)d; facts.json prompt+attribute verbatim: min %(prompt_min)d, "
          "median %(prompt_median)d" % stats)
    if errors:
        print("VALIDATION FAILED (%d problems):" % len(errors))
        for e in errors[:40]:
            print("  " + e)
        sys.exit(1)
    print("validation: ok")


if __name__ == "__main__":
    main()
